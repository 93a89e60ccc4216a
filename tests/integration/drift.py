"""Drift made with boto3 on a converged deployment, the way someone in the console (or a stray script) would make it.

Each entry: what it changes, where, how to see it with boto3, and the task of a normal run that must report it.
Used by test_fast_path.py; the test emulator's endpoint comes from helpers.ENDPOINT.
"""

import json

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


# --- what the declaration holds exclusively (issue 26): each was once listed by a run, left alone and sealed -----
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def admin_policy(region="eu-central-1"):
    """AWS's AdministratorAccess attached to the ECS task role (EHRbase would hold the whole account)."""
    aws("iam").attach_role_policy(RoleName=P[region] + "-ecs-task", PolicyArn=ADMIN)


def admin_policy_attached(region="eu-central-1"):
    attached = aws("iam").list_attached_role_policies(RoleName=P[region] + "-ecs-task")["AttachedPolicies"]
    return ADMIN in [a["PolicyArn"] for a in attached]


def inline_star(region="af-south-1"):
    """An inline `*` on `*` policy put on the execution role."""
    aws("iam").put_role_policy(RoleName=P[region] + "-ecs-execution", PolicyName="break-glass", PolicyDocument=(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'))


def inline_policies(region="af-south-1"):
    return sorted(aws("iam").list_role_policies(RoleName=P[region] + "-ecs-execution")["PolicyNames"])


def evening_off(region="af-south-1"):
    """A scheduled action that sets the service to 0 tasks every evening."""
    aas, resource = _target(region)
    aas.put_scheduled_action(ServiceNamespace="ecs", ScheduledActionName="evening-off", ResourceId=resource,
                             ScalableDimension="ecs:service:DesiredCount", Schedule="cron(0 19 * * ? *)",
                             ScalableTargetAction={"MinCapacity": 0, "MaxCapacity": 0})


def scheduled_actions(region="af-south-1"):
    aas, resource = _target(region)
    return [a["ScheduledActionName"] for a in aas.describe_scheduled_actions(
        ServiceNamespace="ecs", ResourceId=resource)["ScheduledActions"]]


def _vpc_id(region):
    return aws("ec2", region).describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [P[region] + "-vpc"]}])["Vpcs"][0]["VpcId"]


def vpc_dns_hostnames_off(region="eu-central-1"):
    """The VPC's DNS hostnames turned off (an attribute describe_vpcs does not return)."""
    aws("ec2", region).modify_vpc_attribute(VpcId=_vpc_id(region), EnableDnsHostnames={"Value": False})


def vpc_dns_hostnames(region="eu-central-1"):
    return aws("ec2", region).describe_vpc_attribute(VpcId=_vpc_id(region), Attribute="enableDnsHostnames")[
        "EnableDnsHostnames"]["Value"]


def _region_key(region):
    kms = aws("kms", region)
    alias = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/%s-ehrbase" % P[region]][0]
    return kms, alias["TargetKeyId"]


def key_policy_opened(region="af-south-1"):
    """The region key's policy opened to any principal."""
    kms, key = _region_key(region)
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=(
        '{"Version": "2012-10-17", "Statement": [{"Sid": "anyone", "Effect": "Allow", "Principal": {"AWS": "*"},'
        ' "Action": "kms:*", "Resource": "*"}]}'))


def key_policy_principals(region="af-south-1"):
    kms, key = _region_key(region)
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    return sorted(str(s.get("Principal")) for s in policy["Statement"])


def ecs_exec_on(region="af-south-1"):
    """ECS Exec turned on for the service (a shell in the containers that hold patient records)."""
    aws("ecs", region).update_service(cluster=P[region] + "-cluster", service=P[region] + "-ehrbase",
                                      enableExecuteCommand=True)


def ecs_exec(region="af-south-1"):
    return bool(_service(region).get("enableExecuteCommand"))


def _alarm_subscription(region):
    sns = aws("sns", region)
    arn = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":%s-alarms" % P[region])][0]
    return sns, sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"][0]["SubscriptionArn"]


def alarm_filter(region="af-south-1"):
    """A filter policy on the alarm e-mail subscription that drops every alarm (community.aws.sns_topic does not
    read filter policies; the monitoring role's sns_subscription_filters removes it)."""
    sns, sub = _alarm_subscription(region)
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                    AttributeValue='{"severity": ["never"]}')


def alarm_filter_value(region="af-south-1"):
    sns, sub = _alarm_subscription(region)
    return (json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"].get("FilterPolicy") or "{}")
            or None)


def _secret(region):
    return P[region] + "/ehrbase/db-master"


def secret_key_moved(region="eu-central-1"):
    """The master password's secret moved from the region key to the AWS managed key."""
    aws("secretsmanager", region).update_secret(SecretId=_secret(region), KmsKeyId="alias/aws/secretsmanager")


def secret_key(region="eu-central-1"):
    return aws("secretsmanager", region).describe_secret(SecretId=_secret(region)).get("KmsKeyId")


def _db_arn(region):
    return aws("rds", region).describe_db_instances(DBInstanceIdentifier=P[region] + "-db")["DBInstances"][0][
        "DBInstanceArn"]


def backup_copies_stopped(region="af-south-1", partner="eu-west-1"):
    """The replication of the database's backups into its partner region stopped (AWS keeps the copies made)."""
    aws("rds", partner).stop_db_instance_automated_backups_replication(SourceDBInstanceArn=_db_arn(region))


def backup_copies_running(region="af-south-1", partner="eu-west-1"):
    arn = _db_arn(region)
    return any(b.get("DBInstanceArn") == arn and b.get("Status") == "replicating" for b in aws("rds", partner)
               .describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"])


# --- a difference no run puts back (docs/declared.md): refused before any change, never sealed -------------------
def twin_vpc(region="af-south-1"):
    """An empty second VPC of the deployment's name, as a create retried after its answer was lost leaves; the run
    never removes what it did not make without an explicit confirmation (playbooks/repair.yml)."""
    ec2 = aws("ec2", region)
    return ec2.create_vpc(CidrBlock="10.201.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [
        {"Key": "Name", "Value": P[region] + "-vpc"}, {"Key": "ManagedBy", "Value": "ansible/medzen.ehrbase"}]}])[
        "Vpc"]["VpcId"]


def twin_vpc_removed(vpc_id, region="af-south-1"):
    aws("ec2", region).delete_vpc(VpcId=vpc_id)


def seal(region):
    """The region's seal as stored (the SSM parameter's value)."""
    return aws("ssm", region).get_parameter(Name=P[region] + "-ehrbase-converged")["Parameter"]["Value"]
