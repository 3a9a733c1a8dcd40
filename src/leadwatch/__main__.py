from leadwatch.cli import main

main()
