"""Launch moto's server with documented fixes for where it differs from real AWS.

Local mode only. Each shim makes moto answer like AWS does, so the collection
keeps the exact calls it makes against real AWS (we never weaken what prod gets
to please the emulator). One function per shim, named for the AWS behaviour it
restores (its comment says what moto does instead; the number is its entry in
docs/local.md); SHIMS applies them in one list.
"""

import os
import sys
import threading

# One lock for the idempotency shims (a token's first object is looked up and made under it).
TOKEN_LOCK = threading.Lock()


def nat_gateway_tag_resource_type():
    # 1. EC2 DescribeTags: moto reports NAT gateways as resource-type
    #    "nat-gateway"; AWS (and amazon.aws.ec2_vpc_nat_gateway's tag filter) use
    #    "natgateway". Without this every run re-tags the NAT gateways and reports
    #    "changed".
    from moto.ec2 import utils as ec2_utils

    ec2_utils.EC2_PREFIX_TO_RESOURCE["nat"] = "natgateway"


def rds_master_user_in_local_postgres():
    # 2. RDS master user: on AWS, CreateDBInstance makes the master user exist on
    #    the new server, and ModifyDBInstance(MasterUserPassword) changes its
    #    password. Here the "server" is the region's local PostgreSQL, so do the
    #    same there: LOGIN CREATEDB CREATEROLE, never SUPERUSER (as on RDS).
    from moto.rds.models import RDSBackend

    create, modify = RDSBackend.create_db_instance, RDSBackend.modify_db_instance

    def create_db_instance(self, db_kwargs):
        database = create(self, db_kwargs)
        sync_master(self.region_name, db_kwargs.get("master_username"), db_kwargs.get("master_user_password"))
        return database

    def modify_db_instance(self, db_instance_identifier, db_kwargs):
        database = modify(self, db_instance_identifier, db_kwargs)
        if db_kwargs.get("master_user_password"):
            # A restored or promoted instance has a server of its own (backups.py, replicas.py).
            own = database.port if database.__dict__.get("_medzen_address") else None
            sync_master(self.region_name, database.master_username, db_kwargs["master_user_password"], own)
        return database

    RDSBackend.create_db_instance = create_db_instance
    RDSBackend.modify_db_instance = modify_db_instance


def rds_gp3_baseline_reported():
    # 3. RDS gp3 storage: AWS always reports a gp3 instance's baseline
    #    (3000 IOPS, 125 MiB/s below 400 GiB); moto leaves Iops/StorageThroughput
    #    out, and amazon.aws.rds_instance fails on the next run with KeyError
    #    'StorageThroughput'. Give moto's instances AWS's baseline.
    from moto.rds import models as rds_models

    instance_init = rds_models.DBInstance.__init__

    def instance_init_gp3_baseline(self, *args, **kwargs):
        instance_init(self, *args, **kwargs)
        if self.storage_type == "gp3":
            if not self.iops:
                self.iops = 3000
            if not self.storage_throughput:
                self._storage_throughput = 125

    rds_models.DBInstance.__init__ = instance_init_gp3_baseline


def rds_latest_restorable_time_lags():
    # 15. RDS LatestRestorableTime: moto says "now"; AWS's lags the present by about five minutes (transaction logs
    #     are uploaded every five minutes). The maintenance report measures backup age from it.
    from moto.rds import models as rds_models
    import datetime as _datetime

    from moto.core.utils import utcnow as _utcnow

    rds_models.DBInstance.latest_restorable_time = property(lambda self: _utcnow() - _datetime.timedelta(minutes=5))


def rds_missing_parameter_group_not_found():
    # 4. DescribeDBParameterGroups with a name that does not exist: AWS raises
    #    DBParameterGroupNotFound; moto answers an empty list, which makes
    #    amazon.aws.rds_instance_param_group fail with "list index out of range".
    from moto.rds import models as rds_models
    from moto.rds.models import RDSBackend
    describe_groups = RDSBackend.describe_db_parameter_groups

    def describe_db_parameter_groups(self, kwargs):
        found = describe_groups(self, kwargs)
        name = kwargs.get("db_parameter_group_name")
        if name and not found:
            raise rds_models.DBParameterGroupNotFoundError(name)
        return found

    RDSBackend.describe_db_parameter_groups = describe_db_parameter_groups


def rds_force_ssl_listed():
    # 5. DescribeDBParameters: AWS lists every engine parameter of the family;
    #    moto lists only the ones set by hand, so rds_instance_param_group reports
    #    "not an available parameter". Seed the parameters we manage with AWS's
    #    definitions (PostgreSQL 15+ on RDS: rds.force_ssl, boolean, default 1).
    from moto.rds import models as rds_models
    group_init = rds_models.DBParameterGroup.__init__

    def group_init_with_defaults(self, *args, **kwargs):
        group_init(self, *args, **kwargs)
        if (self.family or "").startswith("postgres"):
            self.parameters["rds.force_ssl"] = {
                "ParameterName": "rds.force_ssl", "ParameterValue": "1", "Description": "Force SSL connections.",
                "Source": "engine-default", "ApplyType": "dynamic", "DataType": "boolean",
                "AllowedValues": "0,1", "IsModifiable": True, "ApplyMethod": "pending-reboot",
            }

    rds_models.DBParameterGroup.__init__ = group_init_with_defaults


def ecs_create_service_keeps_deployment_settings():
    # 6. ECS CreateService: moto drops deploymentConfiguration,
    #    healthCheckGracePeriodSeconds and enableECSManagedTags from the request,
    #    so every later run "changes" them again. Keep them, as AWS does.
    from moto.ecs.responses import EC2ContainerServiceResponse

    create_service = EC2ContainerServiceResponse.create_service

    def create_service_keeping_settings(self):
        result = create_service(self)
        service = self.ecs_backend._get_service(self._get_param("cluster", "default"), self._get_param("serviceName"))
        for param, attr in (("deploymentConfiguration", "deployment_configuration"),
                            ("healthCheckGracePeriodSeconds", "health_check_grace_period_seconds"),
                            ("enableECSManagedTags", "enable_ecs_managed_tags")):
            if self._get_param(param) is not None:
                setattr(service, attr, self._get_param(param))
        return result

    EC2ContainerServiceResponse.create_service = create_service_keeping_settings


def elbv2_attributes_with_defaults():
    # 7. ELBv2 DescribeLoadBalancerAttributes: AWS returns every attribute of an
    #    application load balancer with its default; moto only a few, and
    #    amazon.aws.elb_application_lb fails reading e.g.
    #    routing.http.drop_invalid_header_fields.enabled.
    from moto.elbv2 import models as elbv2_models

    lb_init = elbv2_models.FakeLoadBalancer.__init__
    alb_defaults = {
        "idle_timeout.timeout_seconds": "60",
        "routing.http2.enabled": "true",
        "routing.http.desync_mitigation_mode": "defensive",
        "routing.http.drop_invalid_header_fields.enabled": "false",
        "routing.http.preserve_host_header.enabled": "false",
        "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
        "routing.http.xff_client_port.enabled": "false",
        "routing.http.xff_header_processing.mode": "append",
        "waf.fail_open.enabled": "false",
        "access_logs.s3.enabled": "false",
    }

    def lb_init_with_defaults(self, *args, **kwargs):
        lb_init(self, *args, **kwargs)
        if self.type == "application":
            for key, value in alb_defaults.items():
                self.attrs.setdefault(key, value)

    elbv2_models.FakeLoadBalancer.__init__ = lb_init_with_defaults


def autoscaling_policies_filtered_by_name():
    # 8. Application Auto Scaling DescribeScalingPolicies ignores PolicyNames, so
    #    asking for the memory policy with MaxResults=1 returns the CPU policy and
    #    community.aws.application_autoscaling_policy rewrites it every run.
    import json as _json

    from moto.applicationautoscaling import responses as aas_responses

    def describe_scaling_policies(self):
        names = self._get_param("PolicyNames")
        _token, policies = self.applicationautoscaling_backend.describe_scaling_policies(
            service_namespace=self._get_param("ServiceNamespace"), resource_id=self._get_param("ResourceId"),
            scalable_dimension=self._get_param("ScalableDimension"), max_results=10000, next_token=None)
        if names:
            policies = [p for p in policies if p.policy_name in names]
        policies = policies[: self._get_int_param("MaxResults") or 100]
        return _json.dumps({"ScalingPolicies": [aas_responses._build_policy(p) for p in policies]})

    aas_responses.ApplicationAutoScalingResponse.describe_scaling_policies = describe_scaling_policies


def route53_create_after_delete_and_no_duplicate():
    # 9. Route53 ChangeResourceRecordSets: moto refuses a CREATE that repeats one
    #    in its change journal when ANY record sorts after the name, even if the
    #    record was deleted since ("already exists"; amazon.aws.route53 then reports
    #    "ok" and writes nothing). AWS only refuses when that name, type and set
    #    identifier exist now. So a CREATE of an absent record is applied as the
    #    equivalent UPSERT; a CREATE of an existing one fails as on AWS (moto sometimes stored a second copy).
    from moto.route53.exceptions import ResourceRecordAlreadyExists
    from moto.route53.models import Route53Backend

    change_rrsets = Route53Backend.change_resource_record_sets

    def change_resource_record_sets(self, zoneid, change_list):
        zone = self.get_hosted_zone(zoneid)

        def exists(rrset):
            name = rrset["Name"].rstrip(".").lower() + "."
            return any(r.name.rstrip(".").lower() + "." == name and r.type == rrset["Type"]
                       and (r.set_identifier or None) == (rrset.get("SetIdentifier") or None) for r in zone.rrsets)

        for change in change_list:
            if change["Action"] == "CREATE" and not exists(change["ResourceRecordSet"]):
                change["Action"] = "UPSERT"
            elif change["Action"] == "CREATE":  # moto sometimes adds it a second time (a CREATE retried by the SDK)
                rrset = change["ResourceRecordSet"]
                raise ResourceRecordAlreadyExists(rrset["Name"], rrset["Type"])
        return change_rrsets(self, zoneid, change_list)

    Route53Backend.change_resource_record_sets = change_resource_record_sets


def budgets_update_and_subscribers():
    # 10. AWS Budgets: moto implements neither UpdateBudget nor
    #     DescribeSubscribersForNotification (AWS has both; the budget module
    #     uses them to change an amount and to compare subscribers).
    import json as _json
    from moto.budgets.exceptions import NotFoundException as BudgetNotFound
    from moto.budgets.responses import BudgetsResponse

    def _budget(self):
        budgets = self.backend.budgets[self._get_param("AccountId")]
        name = self._get_param("BudgetName") or (self._get_param("NewBudget") or {}).get("BudgetName")
        if name not in budgets:
            raise BudgetNotFound("Unable to find budget: %s - the budget doesn't exist." % name)
        return budgets[name]

    def update_budget(self):
        budget = _budget(self)
        new = dict(self._get_param("NewBudget"))
        new.setdefault("TimePeriod", budget.budget.get("TimePeriod"))
        budget.budget = new
        return _json.dumps({})

    def describe_subscribers_for_notification(self):
        wanted = self._get_param("Notification")
        subs = [n.subscribers for n in _budget(self).notifications if n.details == wanted]
        if not subs:
            raise BudgetNotFound("Unable to find notification for the budget.")
        return _json.dumps({"Subscribers": subs[0]})

    BudgetsResponse.update_budget = update_budget
    BudgetsResponse.describe_subscribers_for_notification = describe_subscribers_for_notification


def rds_pending_maintenance_actions():
    # 11. RDS DescribePendingMaintenanceActions: moto has no such call (AWS answers an empty list when nothing is
    #     pending); the diagnose and maintenance reports read it.
    from moto.core.responses import ActionResult
    from moto.rds.responses import RDSResponse

    def describe_pending_maintenance_actions(self):
        return ActionResult({"PendingMaintenanceActions": []})

    RDSResponse.describe_pending_maintenance_actions = describe_pending_maintenance_actions


def cost_explorer_emulated_bill():
    # 13. Cost Explorer: moto keeps no costs (GetCostAndUsage answers from a one-shot queue keyed by the request body)
    #     and has no GetCostForecast. Both answer from the EMULATED bill in local/cost_table.json, as AWS would:
    #     grouped by up to two dimensions (REGION, SERVICE), filtered on the cost-allocation tag, per month.
    from moto.ce.responses import CostExplorerResponse

    def get_cost_and_usage(self):
        import json

        return json.dumps(emulated_costs(json.loads(self.body)))

    def get_cost_forecast(self):
        import json

        return json.dumps(emulated_forecast(json.loads(self.body)))

    CostExplorerResponse.get_cost_and_usage = get_cost_and_usage
    CostExplorerResponse.get_cost_forecast = get_cost_forecast


def cloudwatch_alarm_history():
    # 14. CloudWatch DescribeAlarmHistory: moto keeps each alarm's earlier states but has no such call. Answer the
    #     state updates as AWS words them ("Alarm updated from OK to ALARM"), newest first.
    from moto.core.responses import ActionResult
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.cloudwatch.responses import CloudWatchResponse

    def describe_alarm_history(self):
        backend = cloudwatch_backends[self.current_account][self.region]
        name = self._get_param("AlarmName")
        items = []
        for alarm in backend.alarms.values():
            if name and alarm.name != name:
                continue
            states = [(h[3], h[4]) for h in alarm.history if h[0] == "StateUpdate"] + [
                (alarm.state_value, alarm.state_updated_timestamp)]
            for (old, dummy), (new, when) in zip(states, states[1:]):
                items.append({"AlarmName": alarm.name, "AlarmType": "MetricAlarm", "Timestamp": when,
                              "HistoryItemType": "StateUpdate",
                              "HistorySummary": "Alarm updated from %s to %s" % (old, new)})
        items.sort(key=lambda i: i["Timestamp"], reverse=True)
        return ActionResult({"AlarmHistoryItems": items})

    CloudWatchResponse.describe_alarm_history = describe_alarm_history


def ecs_task_definitions_sorted():
    # 16. ECS ListTaskDefinitions: moto ignores `sort` and `maxResults` (always oldest first, everything). AWS sorts
    #     by revision (DESC newest first) and pages; ecs_task_definition asks for the newest ACTIVE revision with
    #     sort=DESC, maxResults=1, so on moto it compared with the oldest and re-registered after any version change.
    from moto.core.responses import ActionResult
    from moto.ecs.responses import EC2ContainerServiceResponse

    def list_task_definitions(self):
        arns = self.ecs_backend.list_task_definitions(self._get_param("familyPrefix"), self._get_param("status", "ACTIVE"))
        arns.sort(key=lambda a: (a.split("/")[-1].rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])),
                  reverse=self._get_param("sort", "ASC") == "DESC")
        limit = self._get_param("maxResults")
        return ActionResult({"taskDefinitionArns": arns[:int(limit)] if limit else arns})

    EC2ContainerServiceResponse.list_task_definitions = list_task_definitions


def secret_replicas_keep_their_key():
    # 18. Secrets Manager replicas: moto reports every replica as encrypted with aws/secretsmanager and drops the
    #     KmsKeyId the request gave (AWS encrypts the replica with it). Keep it, so the encryption can be checked.
    from moto.secretsmanager.models import FakeSecret

    create_replicas = FakeSecret.create_replicas

    def create_replicas_keeping_keys(self, replica_regions, force_overwrite):
        replicas = create_replicas(self, replica_regions, force_overwrite)
        for replica, config in zip(replicas, replica_regions or []):
            if config.get("KmsKeyId"):
                replica.config["KmsKeyId"] = config["KmsKeyId"]
        return replicas

    FakeSecret.create_replicas = create_replicas_keeping_keys


def secret_marked_for_deletion_message():
    # 19. Secrets Manager GetSecretValue on a secret scheduled for deletion: AWS says "... because it was marked for
    #     deletion." (what amazon.aws's secretsmanager_secret lookup matches for on_deleted); moto words it "...
    #     currently marked deleted.", so the lookup raised instead of skipping the secret.
    from moto.secretsmanager.exceptions import InvalidRequestException
    from moto.secretsmanager.models import SecretsManagerBackend

    get_secret_value = SecretsManagerBackend.get_secret_value

    def get_secret_value_aws_wording(self, *args, **kwargs):
        try:
            return get_secret_value(self, *args, **kwargs)
        except InvalidRequestException as exc:
            if "marked deleted" not in str(exc):
                raise
            raise InvalidRequestException("You can't perform this operation on the secret because it was marked for "
                                          "deletion.") from exc

    SecretsManagerBackend.get_secret_value = get_secret_value_aws_wording


def idempotency_tokens_honoured():
    # 20. Idempotency tokens: AWS returns the first object when a create is repeated with the token of an earlier
    #     one (the SDK fills ClientToken in itself for CreateNatGateway and CreateRouteTable, so a create retried after
    #     a lost answer is safe); Route 53 does the same for a repeated CallerReference. moto ignores both and creates
    #     a second object. Honour them, so the fault tests see AWS's behaviour, not the emulator's.
    from moto.ec2.responses.nat_gateways import NatGateways
    from moto.ec2.responses.route_tables import RouteTables
    from moto.route53.models import Route53Backend

    def honour_client_token(responses, method, backend_method, store_attr):
        create = getattr(responses, method)

        def create_once(self):
            token = self._get_param("ClientToken")
            if not token:
                return create(self)
            backend = self.ec2_backend
            with TOKEN_LOCK:
                tokens = backend.__dict__.setdefault("_shim_client_tokens", {})
                store = getattr(backend, store_attr)
                first = store.get(tokens.get((method, token)))
                if first is not None:
                    setattr(backend, backend_method, lambda *args, **kwargs: first)  # this call only
                    try:
                        return create(self)
                    finally:
                        delattr(backend, backend_method)
                before = set(store)
                result = create(self)
                created = set(store) - before
                if created:
                    tokens[(method, token)] = created.pop()
                return result

        setattr(responses, method, create_once)

    honour_client_token(NatGateways, "create_nat_gateway", "create_nat_gateway", "nat_gateways")
    honour_client_token(RouteTables, "create_route_table", "create_route_table", "route_tables")

    create_health_check = Route53Backend.create_health_check

    def create_health_check_once(self, caller_reference, health_check_args):
        with TOKEN_LOCK:
            for check in self.health_checks.values():
                if check.caller_reference == caller_reference:
                    return check
            return create_health_check(self, caller_reference, health_check_args)

    Route53Backend.create_health_check = create_health_check_once

    create_hosted_zone = Route53Backend.create_hosted_zone

    def create_hosted_zone_once(self, name, private_zone, caller_reference=None, *args, **kwargs):
        with TOKEN_LOCK:
            for zone in self.zones.values():
                if caller_reference and zone.caller_reference == caller_reference:
                    return zone
            return create_hosted_zone(self, name, private_zone, caller_reference, *args, **kwargs)

    Route53Backend.create_hosted_zone = create_hosted_zone_once


def elbv2_create_load_balancer_idempotent():
    # 21. ELBv2 CreateLoadBalancer is idempotent on AWS: a create with the name of an existing load balancer and the
    #     same settings returns that one ("each call succeeds"), other settings fail DuplicateLoadBalancerName (here:
    #     another scheme, the setting a same-named create could differ in for this collection). moto
    #     checks for a duplicate by ARN, which holds a random id, so a create the SDK retried after a lost answer made
    #     a second ALB of the same name (seen in the fault test, 2026-12-04).
    from moto.elbv2 import models as elbv2_models
    from moto.elbv2.exceptions import DuplicateLoadBalancerName

    create_load_balancer = elbv2_models.ELBv2Backend.create_load_balancer

    def create_load_balancer_once(self, name, *args, **kwargs):
        with TOKEN_LOCK:
            for lb in self.load_balancers.values():
                if lb.name == name:
                    if kwargs.get("scheme", lb.scheme) != lb.scheme:
                        raise DuplicateLoadBalancerName()
                    return lb
            return create_load_balancer(self, name, *args, **kwargs)

    elbv2_models.ELBv2Backend.create_load_balancer = create_load_balancer_once


def ecs_data_plane_emulation():
    # 12. What AWS's data plane shows (target health, stopped tasks, health-check reports): an EMULATION from the
    #     stand-ins and the emulator's own network state, see ecs_plane.py.
    import ecs_plane

    ecs_plane.apply()


def backup_plane_emulation():
    # 17. RDS automated-backup replication, restores from its copies, and a lost region: an EMULATION with real
    #     dumps and real PostgreSQL servers (moto has no replication call and keeps no data), see backup_plane.py.
    import backup_plane

    backup_plane.apply()


def rds_read_replicas_emulation():
    # 22. Cross-region read replicas: moto copies the source's model and replicates nothing. An EMULATION with real
    #     PostgreSQL streaming replication (a hot standby made with pg_basebackup, promoted with pg_promote), its
    #     StatusInfos and CloudWatch's ReplicaLag read from the replica itself, see replicas.py.
    import datetime

    import replicas
    from moto.cloudwatch import models as cw_models

    replicas.apply()
    statistics = cw_models.CloudWatchBackend.get_metric_statistics

    def get_metric_statistics(self, namespace, metric_name, start_time, end_time, period, stats, dimensions,
                              unit=None):
        # RDS publishes ReplicaLag every minute; here the replica is asked when somebody reads the metric.
        ident = next((d.get("Value") for d in dimensions or [] if d.get("Name") == "DBInstanceIdentifier"), None)
        if namespace == "AWS/RDS" and metric_name == "ReplicaLag" and ident:
            try:
                seconds = replicas.replica_lag(ident)
            except Exception:  # the replica's server is down: no datapoint, as on AWS
                seconds = None
            if seconds is not None:
                now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
                if start_time.tzinfo is None:  # moto compares the datum with the request's times
                    now = now.replace(tzinfo=None)
                self.put_metric_data("AWS/RDS", [{"MetricName": "ReplicaLag", "Value": seconds, "Unit": "Seconds",
                                                  "Timestamp": now - datetime.timedelta(seconds=1),
                                                  "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": ident}]}])
        return statistics(self, namespace, metric_name, start_time, end_time, period, stats, dimensions, unit)

    cw_models.CloudWatchBackend.get_metric_statistics = get_metric_statistics


# Applied in this order (moto_shims.py main() before moto starts).
SHIMS = (
    nat_gateway_tag_resource_type,
    rds_master_user_in_local_postgres,
    rds_gp3_baseline_reported,
    rds_latest_restorable_time_lags,
    rds_missing_parameter_group_not_found,
    rds_force_ssl_listed,
    ecs_create_service_keeps_deployment_settings,
    elbv2_attributes_with_defaults,
    autoscaling_policies_filtered_by_name,
    route53_create_after_delete_and_no_duplicate,
    budgets_update_and_subscribers,
    rds_pending_maintenance_actions,
    cost_explorer_emulated_bill,
    cloudwatch_alarm_history,
    ecs_task_definitions_sorted,
    secret_replicas_keep_their_key,
    secret_marked_for_deletion_message,
    idempotency_tokens_honoured,
    elbv2_create_load_balancer_idempotent,
    ecs_data_plane_emulation,
    backup_plane_emulation,
    rds_read_replicas_emulation,
)


def apply():
    """Every shim, in the order they are applied (a later one may wrap what an earlier one patched)."""
    for shim in SHIMS:
        shim()


def _cost_table():
    import json

    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cost_table.json")) as f:
        return json.load(f)


def _tag_matches(table, request_filter):
    tags = (request_filter or {}).get("Tags")
    if not tags:
        return True
    return table["tag"].get(tags["Key"]) in tags.get("Values", [])


def _days(start, end):
    import datetime

    day, last = datetime.date.fromisoformat(start), datetime.date.fromisoformat(end)
    while day < last:
        yield day
        day += datetime.timedelta(days=1)


def emulated_costs(request):
    """GetCostAndUsage from the emulated bill (MONTHLY or DAILY, GroupBy REGION and/or SERVICE)."""
    table = _cost_table()
    period = request["TimePeriod"]
    metric = request.get("Metrics", ["UnblendedCost"])[0]
    dims = [g["Key"] for g in request.get("GroupBy", [])]
    daily = request.get("Granularity", "MONTHLY") == "DAILY"
    buckets = {}
    for day in _days(period["Start"], period["End"]):
        key = day.isoformat() if daily else day.strftime("%Y-%m")
        bucket = buckets.setdefault(key, {"start": day.isoformat(), "end": day.isoformat(), "groups": {}})
        bucket["end"] = day.isoformat()
        if not _tag_matches(table, request.get("Filter")):
            continue
        for region, services in table["daily_usd"].items():
            for service, usd in services.items():
                values = {"REGION": region, "SERVICE": service}
                group = tuple(values[d] for d in dims)
                bucket["groups"][group] = bucket["groups"].get(group, 0.0) + usd
    import datetime

    results = []
    for key in sorted(buckets):
        b = buckets[key]
        end = (datetime.date.fromisoformat(b["end"]) + datetime.timedelta(days=1)).isoformat()
        total = sum(b["groups"].values())
        results.append({
            "TimePeriod": {"Start": b["start"], "End": end},
            "Total": {} if dims else {metric: {"Amount": "%.2f" % total, "Unit": "USD"}},
            "Groups": [{"Keys": list(g), "Metrics": {metric: {"Amount": "%.2f" % v, "Unit": "USD"}}}
                       for g, v in sorted(b["groups"].items())] if dims else [],
            "Estimated": True,
        })
    return {"GroupDefinitions": request.get("GroupBy", []), "ResultsByTime": results, "DimensionValueAttributes": []}


def emulated_forecast(request):
    """GetCostForecast: the emulated bill's daily rate over the forecast period."""
    table = _cost_table()
    period = request["TimePeriod"]
    days = len(list(_days(period["Start"], period["End"])))
    rate = sum(sum(s.values()) for s in table["daily_usd"].values()) if _tag_matches(table, request.get("Filter")) else 0.0
    amount = "%.2f" % (rate * days)
    return {"Total": {"Amount": amount, "Unit": "USD"},
            "ForecastResultsByTime": [{"TimePeriod": period, "MeanValue": amount}]}


def local_postgres():
    """region -> (socket dir, port) from EHRBASE_LOCAL_PG (set by localenv.py)."""
    out = {}
    for item in filter(None, os.environ.get("EHRBASE_LOCAL_PG", "").split(",")):
        region, where = item.split("=", 1)
        sock, port = where.rsplit(":", 1)
        out[region] = (sock, int(port))
    return out


def sync_master(region, user, password, own_port=None):
    where = local_postgres().get(region)
    if own_port:
        import pg

        where = (pg.socket_for_port(int(own_port)), int(own_port))
    if not where or not user or not password:
        return
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(host=where[0], port=where[1], user="postgres", dbname="postgres", connect_timeout=10)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            cur.execute(
                sql.SQL(verb + " ROLE {} WITH LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD %s").format(
                    sql.Identifier(user)),
                (password,),
            )
    finally:
        conn.close()


def main(argv):
    apply()
    from moto.server import main as moto_main

    return moto_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
