"""Data-subject tooling (GDPR Art. 15, 17, 20; CCPA right to know and to delete):
find everything stored about one person, export it, erase it, and anonymise leads
past their retention. Every request leaves an audit row without the address itself.
See docs/privacy.md."""
