"""Where the local environment keeps its state and which ports it uses: read by every local/ script.

Its own module so that localenv.py (which starts the services) and pg.py / standin.py (which it starts)
import their settings from here rather than from each other.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# A second environment (the tests') sets its own state directory and shifts every port by an offset.
STATE = os.environ.get("EHRBASE_LOCAL_STATE", os.path.join(ROOT, ".local"))
OFFSET = int(os.environ.get("EHRBASE_LOCAL_PORT_OFFSET", "0"))
REGIONS = os.environ.get("EHRBASE_LOCAL_REGIONS", "eu-west-1,eu-central-1,af-south-1").split(",")
