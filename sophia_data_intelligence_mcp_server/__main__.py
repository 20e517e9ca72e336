"""`python -m sophia_data_intelligence_mcp_server [--transport http --host 0.0.0.0 --port 8080] [--allow-writes]`."""

import sys

from sophia_data_intelligence_mcp_server.server import NAME, build_server
from sophia_mcp.server import main

if __name__ == "__main__":
    sys.exit(main(NAME, build_server))
