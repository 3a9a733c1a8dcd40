"""The demo site's pages: what each one says and where it lives under /demo/.

Reboot Media is an imaginary digital-marketing agency in Manchester. The copy is the
kind a real agency site carries, so the pages look and weigh like the real thing
(headings, paragraphs, lists, a form), and the simulator's visitors move through the
same paths a person would: landing page, service page, contact page.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PREFIX = "/demo"
RESOURCE = "technical-seo-checklist.pdf"


@dataclass(frozen=True)
class Page:
    path: str  # under PREFIX, starting with /
    template: str
    title: str
    description: str
    h1: str
    lead: str
    sections: tuple[tuple[str, str], ...] = ()
    points: tuple[str, ...] = ()
    robots: str = "index, follow"
    kind: str = "page"  # home, service, landing, contact, thanks


HOME = Page(
    path="/",
    template="home.html",
    kind="home",
    title="Reboot Media | Digital Marketing Agency in Manchester",
    description="Reboot Media grows B2B companies with SEO, paid search and fast, "
    "conversion-focused websites. Independent, Manchester-based, measured on leads.",
    h1="More qualified leads from the traffic you already earn",
    lead="We are a twelve-person digital marketing agency in Manchester. Since 2014 we "
    "have helped software, professional-services and e-commerce companies turn search "
    "and social traffic into sales conversations.",
    sections=(
        ("Measured on leads, not clicks",
         "Every campaign we run reports the leads it produced and what they were worth. "
         "If a channel does not pay for itself within two quarters, we say so and move the budget."),
        ("Specialists, not account managers",
         "The person who plans your campaign is the person who builds it. Our SEO, paid "
         "search and web teams sit at the same table and share one dashboard."),
    ),
    points=(
        "312% more organic leads for a Leeds SaaS company in 14 months",
        "Cost per lead down 46% for a national accountancy firm on Google Ads",
        "A 1.1-second Largest Contentful Paint after rebuilding a 900-page catalogue",
    ),
)

SERVICES = (
    Page(
        path="/services/seo",
        template="service.html",
        kind="service",
        title="SEO Services for B2B Companies | Reboot Media",
        description="Technical SEO, content strategy and digital PR that bring buyers, "
        "not just visitors. Audits, roadmaps and monthly reporting on leads.",
        h1="Search engine optimisation that sales can feel",
        lead="Rankings matter only when they bring the people who buy. We start with the "
        "searches your customers make before they talk to a supplier.",
        sections=(
            ("Technical SEO", "Crawl budget, indexation, structured data, Core Web Vitals "
             "and internal linking, fixed in your code base with your developers."),
            ("Content that answers buyers", "Comparison pages, pricing explainers and case "
             "studies planned from keyword research and your sales team's questions."),
            ("Digital PR", "Data-led stories that earn links from trade press and national news."),
        ),
        points=("Monthly report of leads by landing page", "No long contracts: 90-day notice",
                "A named strategist and a named developer"),
    ),
    Page(
        path="/services/ppc",
        template="service.html",
        kind="service",
        title="PPC Management: Google Ads and Microsoft Ads | Reboot Media",
        description="Paid search and paid social campaigns managed for cost per qualified "
        "lead. Offline conversion imports, clean account structures, weekly optimisation.",
        h1="Paid search managed for cost per qualified lead",
        lead="We import your CRM outcomes into Google Ads and Microsoft Ads so that bidding "
        "learns which clicks became customers, not just which ones filled in a form.",
        sections=(
            ("Account rebuilds", "Tightly themed campaigns, negative keyword lists and ad "
             "copy tested against a control every fortnight."),
            ("Landing pages", "Fast, focused pages per campaign with a form above the fold."),
            ("LinkedIn and Meta", "Paid social for reach inside the accounts you want to win."),
        ),
        points=("Management fee from £950 a month", "Weekly call, monthly board report",
                "You own the ad accounts, always"),
    ),
    Page(
        path="/services/web-design",
        template="service.html",
        kind="service",
        title="Web Design and Development for Lead Generation | Reboot Media",
        description="Fast, accessible websites built to convert: design systems, "
        "server-rendered pages and forms your sales team will thank you for.",
        h1="Websites built to turn visitors into enquiries",
        lead="A website is a sales tool. We design around the three questions every buyer "
        "asks: can you solve my problem, have you done it before, how do I talk to you?",
        sections=(
            ("Speed by default", "Server-rendered pages, no layout shift, images sized for "
             "each screen: green Core Web Vitals at launch and after."),
            ("Accessible", "WCAG 2.2 AA checked by people with assistive technology, not only by tools."),
            ("Measured", "Analytics without cookies, lead attribution and uptime monitoring from day one."),
        ),
        points=("Fixed-price projects from £18,000", "Eight to twelve weeks to launch",
                "Twelve months of support included"),
    ),
)

LANDINGS = (
    Page(
        path="/landing/seo-audit",
        template="landing.html",
        kind="landing",
        title="Free Technical SEO Audit | Reboot Media",
        description="Get a free technical SEO audit of your website: crawl errors, Core Web "
        "Vitals, indexation and the ten fixes worth most. Delivered in five working days.",
        h1="Get a free technical SEO audit in five working days",
        lead="A senior strategist crawls your site, reads your Search Console data and "
        "sends a prioritised list of the fixes that will bring the most qualified traffic.",
        points=("Crawl and indexation report", "Core Web Vitals by template",
                "The ten fixes worth most, with effort estimates", "A 30-minute walkthrough call"),
    ),
    Page(
        path="/landing/ppc-management",
        template="landing.html",
        kind="landing",
        title="PPC Management from £950/month | Reboot Media",
        description="Google Ads and Microsoft Ads management for B2B companies, optimised "
        "for cost per qualified lead. Free account review, no long contracts.",
        h1="Lower your cost per qualified lead on Google Ads",
        lead="Send us read access to your ad account and we will show you, in one page, "
        "where the budget leaks and what we would change in the first 30 days.",
        points=("Free account review", "Offline conversion tracking set up",
                "Management from £950 a month", "90-day notice, no lock-in"),
    ),
)

CONTACT = Page(
    path="/contact",
    template="contact.html",
    kind="contact",
    title="Contact Reboot Media | Talk to a Strategist",
    description="Tell us about your goals and a strategist will call you back within one "
    "working day. Reboot Media, 42 Tariff Street, Manchester M1 2FF.",
    h1="Talk to a strategist",
    lead="Tell us what you want to achieve. A strategist (not a salesperson) reads every "
    "message and calls you back within one working day.",
)

THANKS = Page(
    path="/thanks",
    template="thanks.html",
    kind="thanks",
    title="Thank you | Reboot Media",
    description="Thank you for contacting Reboot Media.",
    h1="Thank you, we have your message",
    lead="A strategist will call or email you within one working day. In the meantime, "
    "our technical SEO checklist is a good read.",
    robots="noindex, nofollow",
)

PAGES: dict[str, Page] = {p.path: p for p in (HOME, *SERVICES, *LANDINGS, CONTACT, THANKS)}
MENU = (
    ("/services/seo", "SEO"),
    ("/services/ppc", "PPC"),
    ("/services/web-design", "Web design"),
    ("/contact", "Contact"),
)


@dataclass(frozen=True)
class Experiment:
    """An A/B test the demo site runs. Each browser (address and user agent) always sees
    the same variant, as a site's testing tool would assign it; ``lift`` is how much
    more likely than the control a visitor of the variant is to send the form (the
    simulator's ground truth, which the analysis should find)."""

    name: str
    variants: tuple[tuple[str, str, float], ...]  # (variant, button text, lift)

    def assign(self, ip: str, user_agent: str) -> str:
        digest = hashlib.sha256(f"{self.name}|{ip}|{user_agent}".encode()).digest()
        return self.variants[int.from_bytes(digest[:8], "big") % len(self.variants)][0]

    def button(self, variant: str) -> str:
        return next(text for v, text, _ in self.variants if v == variant)

    def lift(self, variant: str) -> float:
        return next(lift for v, _, lift in self.variants if v == variant)


# The contact form's button: the plain "send" against an offer of a call.
CONTACT_CTA = Experiment(
    "contact-cta",
    (("control", "Send my enquiry", 1.0), ("book-call", "Book my free strategy call", 1.25)),
)
