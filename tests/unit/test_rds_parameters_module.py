"""rds_parameters through ansible against the test emulator: set, keep, and a drifted value reported in check mode
(the upstream rds_instance_param_group reports it `ok` there) and put back."""

from helpers import aws, run_module

REGION = "eu-central-1"
GROUP = "paramtest-pg16"


def params(check_mode=False, **changes):
    return run_module("medzen.ehrbase.rds_parameters", dict({"region": REGION, "name": GROUP,
                                                             "params": {"rds.force_ssl": 1}}, **changes),
                      check_mode=check_mode, diff=True)


def force_ssl():
    found = aws("rds", REGION).describe_db_parameters(DBParameterGroupName=GROUP, Source="user")["Parameters"]
    return [p.get("ParameterValue") for p in found if p["ParameterName"] == "rds.force_ssl"]


def test_declared_parameters_are_set_kept_and_a_drifted_one_reported_in_check_mode(emulator):
    # A group that does not exist yet: check mode says every declared parameter would be set; a real run refuses.
    rc, res, out = params(check_mode=True)
    assert rc == 0 and res["changed"] is True and res["changed_parameters"] == ["rds.force_ssl"], out
    rc, res, out = params()
    assert rc != 0 and "does not exist" in res["msg"] and "nothing was changed" in res["msg"], out

    aws("rds", REGION).create_db_parameter_group(DBParameterGroupName=GROUP, DBParameterGroupFamily="postgres16",
                                                 Description="test")
    # PostgreSQL 15 and later default rds.force_ssl to 1 (the emulator lists the engine defaults, as RDS does).
    rc, res, out = params()
    assert rc == 0 and res["changed"] is False and res["parameters"] == {"rds.force_ssl": "1"}, out
    rc, res, out = params(params={"rds.force_ssl": 1, "log_connections": True})
    assert rc == 0 and res["changed_parameters"] == ["log_connections"] and params(
        params={"rds.force_ssl": 1, "log_connections": True})[1]["changed"] is False, out

    aws("rds", REGION).modify_db_parameter_group(DBParameterGroupName=GROUP, Parameters=[
        {"ParameterName": "rds.force_ssl", "ParameterValue": "0", "ApplyMethod": "immediate"}])
    rc, res, out = params(check_mode=True)
    assert res["changed"] is True and res["changed_parameters"] == ["rds.force_ssl"] and force_ssl() == ["0"], out
    rc, res, out = params()
    assert res["changed"] is True and force_ssl() == ["1"] and params()[1]["changed"] is False
