"""ecs_scalable_target through ansible against the test emulator: register, keep, put a lowered minimum back."""

from helpers import aws, run_module

REGION = "eu-central-1"
ARGS = {"region": REGION, "cluster": "scaletest-cluster", "service": "scaletest-ehrbase", "minimum": 2, "maximum": 4}
RESOURCE = "service/scaletest-cluster/scaletest-ehrbase"


def target(check_mode=False, **changes):
    rc, res, out = run_module("medzen.ehrbase.ecs_scalable_target", dict(ARGS, **changes), check_mode=check_mode,
                              diff=True)
    return rc, res, out


def current():
    found = aws("application-autoscaling", REGION).describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[RESOURCE])["ScalableTargets"]
    return [(t["MinCapacity"], t["MaxCapacity"]) for t in found]


def test_range_is_registered_kept_and_put_back_honestly_in_check_mode(emulator):
    ecs = aws("ecs", REGION)  # the API checks that the service exists
    ecs.create_cluster(clusterName="scaletest-cluster")
    ecs.register_task_definition(family="scaletest", containerDefinitions=[{"name": "app", "image": "busybox", "memory": 64}])
    ecs.create_service(cluster="scaletest-cluster", serviceName="scaletest-ehrbase", taskDefinition="scaletest", desiredCount=0)
    rc, res, out = target(check_mode=True)
    assert rc == 0 and res["changed"] is True and res["existed"] is False and current() == [], out
    assert target()[1]["changed"] is True and current() == [(2, 4)]
    assert target()[1]["changed"] is False

    aws("application-autoscaling", REGION).register_scalable_target(
        ServiceNamespace="ecs", ResourceId=RESOURCE, ScalableDimension="ecs:service:DesiredCount", MinCapacity=1)
    rc, res, out = target(check_mode=True)
    assert res["changed"] is True and current() == [(1, 4)] and "min_capacity" in out  # the diff says what
    assert target()[1]["changed"] is True and current() == [(2, 4)]

    rc, res, out = target(minimum=5)
    assert rc != 0 and "minimum=5, maximum=4" in out and current() == [(2, 4)]

    # A scheduled action nobody declared (the service at 0 tasks every evening) is drift: reported, then deleted.
    aas = aws("application-autoscaling", REGION)
    aas.put_scheduled_action(ServiceNamespace="ecs", ScheduledActionName="evening-off", ResourceId=RESOURCE,
                             ScalableDimension="ecs:service:DesiredCount", Schedule="cron(0 19 * * ? *)",
                             ScalableTargetAction={"MinCapacity": 0, "MaxCapacity": 0})

    def actions():
        return [a["ScheduledActionName"] for a in aas.describe_scheduled_actions(
            ServiceNamespace="ecs", ResourceId=RESOURCE)["ScheduledActions"]]

    rc, res, out = target(check_mode=True)
    assert res["changed"] is True and res["removed_scheduled_actions"] == ["evening-off"] and "evening-off" in out
    assert actions() == ["evening-off"]
    rc, res, out = target()
    assert res["changed"] is True and actions() == [] and current() == [(2, 4)], out
    assert target()[1]["changed"] is False
