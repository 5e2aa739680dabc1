"""The demo project's settings: the plugin enabled exactly as the README says."""

BOT_NAME = "demo"
SPIDER_MODULES = ["demo.spiders"]
NEWSPIDER_MODULE = "demo.spiders"

# One line enables scrapy-proxyerrors: middleware, HTTPS handler, report.
ADDONS = {"scrapy_proxyerrors.Addon": 0}

# Where the crawl goes. Empty: start the built-in emulator in-process and crawl
# its local site through an emulated, faulty SOAX gateway. Set it (or pass
# `-s DEMO_PROXY=http://user:key@proxy.soax.com:5000 -s DEMO_START_URL=https://...`)
# to crawl through a real provider instead.
DEMO_PROXY = ""
DEMO_START_URL = ""
DEMO_PAGES = 300
DEMO_PROVIDER = "soax"
DEMO_SCENARIO = "flaky"

# The emulated gateway listens on 127.0.0.1, so no host tells that it is SOAX:
# name the provider (a signature header alone is capped at retry/rotate, since a
# target could forward one). Requests to the chocodata API name theirs in meta.
PROXYERRORS_PROVIDER = "soax"
PROXYERRORS_BACKOFF_BASE = 0.05
PROXYERRORS_BACKOFF_MAX = 1.0
PROXYERRORS_ROUTE_COOLDOWN = 5
PROXYERRORS_MAX_RETRIES = 5
PROXYERRORS_REPORT_FILE = "proxyerrors-report.json"

CONCURRENT_REQUESTS = 16
ROBOTSTXT_OBEY = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
