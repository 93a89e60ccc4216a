"""Drift made with boto3 on a converged deployment, the way someone in the console (or a stray script) would make it.

Each entry: what it changes, where, how to see it with boto3, and the task of a normal run that must report it.
Used by test_fast_path.py; the test emulator's endpoint comes from helpers.ENDPOINT.
"""

from helpers import aws

P = {"eu-west-1": "medzen-local-euw1", "eu-central-1": "medzen-local-euc1", "af-south-1": "medzen-local-afs1"}


def _group(region, name):
    ec2 = aws("ec2", region)
    return ec2, ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"][0]


def sg_rule(region="eu-west-1"):
    """The ECS security group lets 8080 in from anywhere instead of from the ALB only."""
    ec2, group = _group(region, P[region] + "-ecs-sg")
    ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])


def sg_rule_present(region="eu-west-1"):
    group = _group(region, P[region] + "-ecs-sg")[1]
    return any(r.get("CidrIp") == "0.0.0.0/0" for p in group["IpPermissions"] for r in p.get("IpRanges", []))


def _private_table(region):
    ec2 = aws("ec2", region)
    name = P[region] + "-private-rt-a"
    return ec2, ec2.describe_route_tables(Filters=[{"Name": "tag:Name", "Values": [name]}])["RouteTables"][0]


def route(region="eu-central-1"):
    """The private route table of the first AZ loses its default route (tasks there lose the internet)."""
    ec2, table = _private_table(region)
    ec2.delete_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0")


def route_present(region="eu-central-1"):
    return any(r.get("DestinationCidrBlock") == "0.0.0.0/0" for r in _private_table(region)[1]["Routes"])


def _alarm(region):
    return aws("cloudwatch", region).describe_alarms(AlarmNames=[P[region] + "-ecs-cpu-high"])["MetricAlarms"][0]


def alarm_threshold(region="af-south-1"):
    """The ECS CPU alarm's threshold is raised from 80 to 99 (an alarm that would never fire)."""
    alarm = _alarm(region)
    keys = ("AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "MetricName", "Namespace",
            "Statistic", "Dimensions", "Period", "EvaluationPeriods", "ComparisonOperator", "TreatMissingData")
    aws("cloudwatch", region).put_metric_alarm(Threshold=99.0, **dict((k, alarm[k]) for k in keys if k in alarm))


def alarm_threshold_value(region="af-south-1"):
    return _alarm(region)["Threshold"]


def _service(region):
    return aws("ecs", region).describe_services(cluster=P[region] + "-cluster",
                                                services=[P[region] + "-ehrbase"])["services"][0]


def running(region):
    """(task-definition ARN, image, number of deployments) the region's service runs now."""
    ecs = aws("ecs", region)
    svc = _service(region)
    image = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]["containerDefinitions"][0]["image"]
    return svc["taskDefinition"], image, len([d for d in svc["deployments"] if d["status"] in ("PRIMARY", "ACTIVE")])


def task_definition(region="eu-west-1"):
    """A revision registered outside Ansible (one more environment variable), and the service moved to it."""
    ecs = aws("ecs", region)
    current = ecs.describe_task_definition(taskDefinition=_service(region)["taskDefinition"])["taskDefinition"]
    container = dict(current["containerDefinitions"][0])
    container["environment"] = container.get("environment", []) + [{"name": "DEBUG_BY_HAND", "value": "1"}]
    keys = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "requiresCompatibilities", "cpu", "memory")
    arn = ecs.register_task_definition(containerDefinitions=[container], **dict((k, current[k]) for k in keys if k in current))[
        "taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=P[region] + "-cluster", service=P[region] + "-ehrbase", taskDefinition=arn)
    return arn


def task_definition_env(region="eu-west-1"):
    ecs = aws("ecs", region)
    current = ecs.describe_task_definition(taskDefinition=_service(region)["taskDefinition"])["taskDefinition"]
    return [e["name"] for e in current["containerDefinitions"][0].get("environment", [])]


def _zone():
    r53 = aws("route53")
    zone = [z for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == "medzenhealth.app."][0]
    return r53, zone["Id"]


def dns_record(name="eu-central-1.ehr.medzenhealth.app."):
    """The region's direct alias record is deleted (its failover and health check lose their target)."""
    r53, zone = _zone()
    records = [r for r in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"] if r["Name"] == name]
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
        {"Action": "DELETE", "ResourceRecordSet": r} for r in records]})


def dns_record_present(name="eu-central-1.ehr.medzenhealth.app."):
    r53, zone = _zone()
    return any(r["Name"] == name for r in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"])


def _target(region):
    aas = aws("application-autoscaling", region)
    resource = "service/%s-cluster/%s-ehrbase" % (P[region], P[region])
    return aas, resource


def scaled_in(region="af-south-1"):
    """The autoscaling minimum is lowered from 2 tasks to 1 (no longer one per AZ)."""
    aas, resource = _target(region)
    aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=resource, ScalableDimension="ecs:service:DesiredCount",
                                 MinCapacity=1)


def min_capacity(region="af-south-1"):
    aas, resource = _target(region)
    return aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])["ScalableTargets"][0]["MinCapacity"]
