"""Launch moto's server with documented fixes for where it differs from real AWS.

Local mode only. Each shim makes moto answer like AWS does, so the collection
keeps the exact calls it makes against real AWS (we never weaken what prod gets
to please the emulator). Every shim names the moto behaviour it corrects.
"""

import sys


def apply():
    # 1. EC2 DescribeTags: moto reports NAT gateways as resource-type
    #    "nat-gateway"; AWS (and amazon.aws.ec2_vpc_nat_gateway's tag filter) use
    #    "natgateway". Without this every run re-tags the NAT gateways and reports
    #    "changed".
    from moto.ec2 import utils as ec2_utils

    ec2_utils.EC2_PREFIX_TO_RESOURCE["nat"] = "natgateway"


def main(argv):
    apply()
    from moto.server import main as moto_main

    return moto_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
