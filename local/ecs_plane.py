"""EMULATION of what AWS's data plane shows for an ECS service behind a load balancer (local mode only).

moto keeps the control plane (services, target groups, security groups) but runs nothing: no target is ever
registered, no task ever stops, every Route53 health check reports success. The collection's diagnose and reports
read exactly those answers, so this module makes moto answer them from real processes, as AWS would:

* DescribeTargetHealth, for a target group an ECS service uses: one target per desired task (private IPs of the
  service's subnets). A target is unhealthy with `Target.Timeout` when no rule of the tasks' security groups lets
  the load balancer's security groups reach the target port (what AWS sees when the rule is removed); otherwise the
  region's EHRbase stand-in is really requested on the target group's health-check path and its answer compared with
  the matcher: `Target.ResponseCodeMismatch` ("Health checks failed with these codes: [401]"), or
  `Target.FailedHealthChecks` when nothing answers.
* ListTasks/DescribeTasks with desiredStatus STOPPED: while the targets of a service fail their health checks, the
  tasks ECS would have started and stopped are recorded (at most two per task-definition revision), with AWS's
  stoppedReason - "Essential container in task exited" (exit code 1) when the stand-in reports the container exits
  at start-up, "Task failed ELB health checks in (target-group ...)" otherwise. serviceName filters them (moto
  ignores that filter).
* DescribeServices: runningCount/pendingCount (and the primary deployment's counts and rolloutState) follow the
  emulated targets - a task counts as running once its target is healthy.
* UpdateService with a new task definition (a release): a ROLLOUT is emulated as ECS runs one with minimum healthy
  100 %. The new revision gets a PRIMARY deployment (IN_PROGRESS) while the old one stays ACTIVE and keeps serving
  (the stand-in serves the revision of the newest COMPLETED deployment). The image tag decides the outcome: after
  ROLLOUT_START_SECONDS a tag not ending in `-broken` is healthy, the deployment COMPLETED and the old one drained;
  a tag ending in `-broken` never becomes healthy: after ROLLOUT_START_SECONDS its tasks are recorded stopped
  ("Essential container in task exited", exit code 1), and after ROLLOUT_FAIL_SECONDS the deployment circuit breaker
  marks it FAILED (with the service events ECS writes) and rolls the service back to the previous revision, as ECS
  does with rollback on; with the circuit breaker off the deployment stays IN_PROGRESS, as on ECS.
* GetHealthCheckStatus: each checker's report comes from a real request to the stand-in of the region the health
  check points at (`<region>.<domain>`), in Route53's wording.

Every answer is computed when asked for (no background thread); the stand-in is the source of truth for "does
EHRbase answer", the emulator for "is the network open".
"""

import ipaddress
import random
import threading
import time
import uuid
import urllib.error
import urllib.request

HEALTH_TIMEOUT = 2.0
_cache = {}
# Requests from the stand-ins themselves (user agent "ehrbase-standin") are answered without the emulation: the
# stand-in asks ECS what to serve, and asking it back for its health from inside that answer would go in circles.
_local = threading.local()
STANDIN_AGENT = "ehrbase-standin"
ROLLOUT_START_SECONDS = 6
ROLLOUT_FAIL_SECONDS = 10
_rollouts = {}  # service arn -> the rollout in progress


def _standin_port(region):
    import standin

    return standin.port(region) if region in standin.REGIONS else None


def http_status(region, path):
    """(status code or None, error text) of a real request to the region's stand-in."""
    port = _standin_port(region)
    if port is None:
        return None, "no stand-in for %s" % region
    key = (region, path)
    hit = _cache.get(key)
    if hit and time.monotonic() - hit[0] < 1.0:
        return hit[1]
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=HEALTH_TIMEOUT) as resp:
            result = (resp.status, "")
    except urllib.error.HTTPError as exc:
        result = (exc.code, exc.read().decode("utf-8", "replace")[:300])
    except OSError as exc:
        result = (None, str(exc))
    _cache[key] = (time.monotonic(), result)
    return result


def _matches(code, matcher):
    for part in str((matcher or {}).get("HttpCode", "200")).split(","):
        low, dummy, high = part.strip().partition("-")
        if code is not None and int(low) <= code <= int(high or low):
            return True
    return False


def _service_for(account_id, region, tg_arn):
    from moto.ecs.models import ecs_backends

    backend = ecs_backends[account_id][region]
    for svc in backend.services.values():
        if svc.status == "ACTIVE" and any(lb.get("targetGroupArn") == tg_arn for lb in svc.load_balancers):
            return svc
    return None


def _alb_can_reach_tasks(account_id, region, svc, tg, elbv2):
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[account_id][region]
    alb_groups = set()
    for lb_arn in tg.load_balancer_arns:
        lb = elbv2.load_balancers.get(lb_arn)
        alb_groups.update(lb.security_groups if lb else [])
    task_groups = svc.network_configuration.get("awsvpcConfiguration", {}).get("securityGroups", [])
    for group_id in task_groups:
        group = ec2.get_security_group_from_id(group_id)
        for rule in (group.ingress_rules if group else []):
            ports_ok = rule.from_port is None or rule.from_port <= tg.port <= rule.to_port
            if ports_ok and (rule.source_group or {}).get("GroupId") in alb_groups:
                return True
    return False


def _target_ips(svc, count):
    subnets = svc.network_configuration.get("awsvpcConfiguration", {}).get("subnets", [])
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[svc._account_id][svc.region_name]
    ips = []
    for i in range(count):
        subnet = ec2.get_subnet(subnets[i % len(subnets)]) if subnets else None
        net = ipaddress.ip_network(subnet.cidr_block) if subnet else ipaddress.ip_network("10.0.11.0/24")
        ips.append(str(net.network_address + 10 + i))
    return ips


def target_states(account_id, region, tg, elbv2):
    """None when no ECS service uses the target group (moto answers), else [(ip, state, reason, description)]."""
    svc = _service_for(account_id, region, tg.arn)
    if svc is None:
        return None
    ips = _target_ips(svc, svc.desired_count)
    if not ips:
        return []
    if not _alb_can_reach_tasks(account_id, region, svc, tg, elbv2):
        return [(ip, "unhealthy", "Target.Timeout", "Request timed out") for ip in ips]
    code, error = http_status(region, tg.health_check_path or "/")
    if code is None:
        return [(ip, "unhealthy", "Target.FailedHealthChecks", "Health checks failed") for ip in ips]
    if _matches(code, tg.matcher):
        return [(ip, "healthy", None, None) for ip in ips]
    return [(ip, "unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [%s]" % code)
            for ip in ips]


def _record_stopped_tasks(backend, cluster_name, svc, tg_arn, states):
    """Tasks ECS would have started and stopped for a service whose targets keep failing (two per revision)."""
    if not states or all(s[1] == "healthy" for s in states):
        return
    code, body = http_status(svc.region_name, "/ehrbase/management/health")
    exits = code is not None and "container exits at start-up" in body
    reason = "Essential container in task exited" if exits else "Task failed ELB health checks in (target-group %s)" % tg_arn
    tasks = backend.tasks.setdefault(cluster_name, {})
    group = "service:%s" % svc.name
    recorded = [t for t in tasks.values() if t.group == group and t.task_definition_arn == svc.task_definition
                and t.stopped_reason == reason]
    if len(recorded) >= 2:
        return
    _make_stopped_tasks(backend, svc, svc.task_definition, reason, 1 if exits else 143, tasks, 2 - len(recorded))


def _event(svc, message):
    from moto.core.utils import utcnow

    svc.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": utcnow(), "message": "(service %s) %s" % (svc.name, message)})
    del svc.events[100:]


def _deployment(svc, task_definition, status, state, running, reason=""):
    from moto.core.utils import utcnow

    deployment_id = "ecs-svc/%d" % random.randint(10 ** 15, 10 ** 16 - 1)
    return {"id": deployment_id, "status": status, "taskDefinition": task_definition, "desiredCount": svc.desired_count,
            "pendingCount": svc.desired_count - running, "runningCount": running, "failedTasks": 0,
            "createdAt": utcnow(), "updatedAt": utcnow(), "launchType": "FARGATE", "platformVersion": "LATEST",
            "platformFamily": "Linux", "networkConfiguration": svc.network_configuration,
            "rolloutState": state, "rolloutStateReason": reason}


def start_rollout(backend, svc, old_task_definition):
    """A release: new PRIMARY deployment in progress, the old one ACTIVE and serving."""
    new = _deployment(svc, svc.task_definition, "PRIMARY", "IN_PROGRESS", 0)
    # What serves is the newest COMPLETED deployment; one still in progress is superseded (ECS stops its tasks).
    serving = [d for d in svc.deployments if d.get("rolloutState") == "COMPLETED" and d.get("status") in ("PRIMARY", "ACTIVE")]
    old = serving[:1] or [d for d in svc.deployments if d.get("status") == "PRIMARY"][:1]
    for d in old:
        d.update(status="ACTIVE", rolloutState="COMPLETED", runningCount=svc.desired_count, pendingCount=0)
        if not serving:
            d.update(taskDefinition=old_task_definition)
    svc.deployments = [new] + old
    _rollouts[svc.arn] = {"started": time.monotonic(), "new": svc.task_definition, "old": old_task_definition,
                          "deployment": new["id"]}
    revision = svc.task_definition.split("/")[-1]
    _event(svc, "has started %d tasks of %s (deployment %s)." % (svc.desired_count, revision, new["id"]))


def _starts(backend, task_definition_arn):
    """Emulated outcome of a revision: what the stand-in would do with it (a -broken tag never becomes healthy)."""
    import standin

    td = backend.describe_task_definition(task_definition_arn)
    container = td.container_definitions[0]
    env = set(e["name"] for e in container.get("environment", [])) | set(s["name"] for s in container.get("secrets", []))
    return not container.get("image", "").endswith("-broken") and all(k in env for k in standin.REQUIRED_ENV)


def advance_rollout(backend, svc):
    """Move an emulated rollout on, from the time it has run."""
    rollout = _rollouts.get(svc.arn)
    if not rollout:
        return
    elapsed = time.monotonic() - rollout["started"]
    new = [d for d in svc.deployments if d["id"] == rollout["deployment"]]
    if not new or svc.task_definition != rollout["new"]:
        _rollouts.pop(svc.arn, None)  # superseded by another update
        return
    new = new[0]
    if _starts(backend, rollout["new"]):
        if elapsed < ROLLOUT_START_SECONDS:
            return
        new.update(rolloutState="COMPLETED", rolloutStateReason="ECS deployment %s completed." % new["id"],
                   runningCount=svc.desired_count, pendingCount=0)
        svc.deployments = [new]
        _rollouts.pop(svc.arn, None)
        _event(svc, "has reached a steady state.")
        return
    if elapsed < ROLLOUT_START_SECONDS:
        return
    if not rollout.get("stopped"):
        # The new tasks started and exited: ECS records them stopped and keeps trying.
        tasks = backend.tasks.setdefault(svc.cluster_name, {})
        _make_stopped_tasks(backend, svc, rollout["new"], "Essential container in task exited", 1, tasks, 2)
        new.update(failedTasks=2)
        rollout["stopped"] = True
        _event(svc, "has stopped 2 running tasks: the essential container exited.")
    breaker = ((svc.deployment_configuration or {}).get("deploymentCircuitBreaker") or {}).get("enable")
    if elapsed < ROLLOUT_FAIL_SECONDS or not breaker:
        return  # without the circuit breaker ECS keeps trying for ever (the old tasks keep serving)
    new.update(status="INACTIVE", rolloutState="FAILED", runningCount=0, pendingCount=0, failedTasks=2,
               rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.")
    _event(svc, "(deployment %s) deployment failed: tasks failed to start." % new["id"])
    svc.task_definition = rollout["old"]
    back = _deployment(svc, rollout["old"], "PRIMARY", "COMPLETED", svc.desired_count,
                       "ECS deployment circuit breaker: rolled back to the previous revision.")
    svc.deployments = [back, new]
    _rollouts.pop(svc.arn, None)
    _event(svc, "rolling back to deployment %s (%s)." % (back["id"], rollout["old"].split("/")[-1]))
    _event(svc, "has reached a steady state.")


def _make_stopped_tasks(backend, svc, task_definition_arn, reason, exit_code, tasks, count):
    from moto.ecs.models import Task

    task_definition = backend.describe_task_definition(task_definition_arn)
    cluster = backend.clusters[svc.cluster_name]
    for dummy in range(count):
        task = Task(cluster, task_definition, None, None, backend, group="service:%s" % svc.name, launch_type="FARGATE",
                    started_by=(svc.deployments[0]["id"] if svc.deployments else ""),
                    networking_configuration=svc.network_configuration or None)
        task.desired_status = "STOPPED"
        task.last_status = "STOPPED"
        task.stopped_reason = reason
        for container in task.containers:
            container.last_status = "STOPPED"
            container.exitCode = exit_code
        tasks[task.task_arn] = task


def apply():
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus

    describe_target_health = ELBv2Backend.describe_target_health

    def emulated_target_health(self, target_group_arn, targets):
        tg = self.target_groups.get(target_group_arn)
        states = target_states(self.account_id, self.region_name, tg, self) if tg else None
        if states is None:
            return describe_target_health(self, target_group_arn, targets)
        return [FakeHealthStatus(ip, str(tg.port), str(tg.port), state, reason, description)
                for ip, state, reason, description in states]

    ELBv2Backend.describe_target_health = emulated_target_health

    describe_services = EC2ContainerServiceBackend.describe_services

    def emulated_describe_services(self, cluster_str, service_names_or_arns):
        """Running/pending counts from the emulated targets: a task is running once its target is healthy."""
        from moto.elbv2.models import elbv2_backends

        found = describe_services(self, cluster_str, service_names_or_arns)
        for svc in found[0]:
            advance_rollout(self, svc)
        if getattr(_local, "standin", False):
            return found
        elbv2 = elbv2_backends[self.account_id][self.region_name]
        for svc in found[0]:
            tgs = [elbv2.target_groups.get(lb.get("targetGroupArn")) for lb in svc.load_balancers]
            states = [target_states(self.account_id, self.region_name, tg, elbv2) for tg in tgs if tg]
            if not states or states[0] is None or svc.arn in _rollouts:
                continue
            running = sum(1 for s in states[0] if s[1] == "healthy")
            svc.running_count, svc.pending_count = running, svc.desired_count - running
            for deployment in svc.deployments[:1]:
                deployment.update(runningCount=running, pendingCount=svc.desired_count - running,
                                  desiredCount=svc.desired_count,
                                  rolloutState="COMPLETED" if running == svc.desired_count else "IN_PROGRESS")
        return found

    EC2ContainerServiceBackend.describe_services = emulated_describe_services

    update_service = EC2ContainerServiceBackend.update_service

    def emulated_update_service(self, service_properties):
        cluster = service_properties.get("cluster", "default")
        name = service_properties.get("service", "").split("/")[-1]
        before = self._get_service(cluster, name)
        old = before.task_definition
        svc = update_service(self, service_properties)
        if svc.task_definition != old and svc.load_balancers and svc.desired_count > 0:
            start_rollout(self, svc, old)
        return svc

    EC2ContainerServiceBackend.update_service = emulated_update_service

    from moto.ecs.responses import EC2ContainerServiceResponse

    describe_services_response = EC2ContainerServiceResponse.describe_services

    def describe_services_noting_the_caller(self):
        _local.standin = STANDIN_AGENT in (self.headers.get("User-Agent") or "")
        try:
            return describe_services_response(self)
        finally:
            _local.standin = False

    EC2ContainerServiceResponse.describe_services = describe_services_noting_the_caller

    list_tasks = EC2ContainerServiceBackend.list_tasks

    def emulated_list_tasks(self, cluster_str=None, container_instance=None, family=None, started_by=None,
                            service_name=None, desiredStatus=None):
        from moto.elbv2.models import elbv2_backends

        elbv2 = elbv2_backends[self.account_id][self.region_name]
        for svc in list(self.services.values()):
            if svc.status != "ACTIVE" or svc.desired_count == 0:
                continue
            for lb in svc.load_balancers:
                tg = elbv2.target_groups.get(lb.get("targetGroupArn"))
                if tg:
                    _record_stopped_tasks(self, svc.cluster_name, svc, tg.arn,
                                          target_states(self.account_id, self.region_name, tg, elbv2))
        found = list_tasks(self, cluster_str, container_instance, family, started_by, None, desiredStatus)
        if service_name:
            found = [t for t in found if t.group == "service:%s" % service_name.split("/")[-1]]
        return found

    EC2ContainerServiceBackend.list_tasks = emulated_list_tasks

    from moto.route53.models import route53_backends
    from moto.route53.responses import Route53

    def emulated_health_check_status(self):
        from moto.core.common_types import TYPE_RESPONSE  # noqa: F401  (moto's response contract)
        from moto.core.responses import ActionResult
        from moto.core.utils import utcnow

        check = self.backend.get_health_check(self._get_param("HealthCheckId"))
        fqdn = (check.fqdn or "").rstrip(".")
        region = fqdn.split(".", 1)[0]
        code, error = http_status(region, check.resource_path or "/")
        if code is not None and 200 <= code < 400:
            status = "Success: HTTP Status Code %s, OK" % code
        elif code is not None:
            status = "Failure: HTTP Status Code %s, %s" % (code, error[:80] or "error")
        else:
            status = "Failure: Connection timed out. The endpoint or the internet connection is down, or requests are being blocked by your firewall."
        observations = [{"Region": checker, "IPAddress": "15.177.%d.%d" % (i, 10 + i),
                         "StatusReport": {"Status": status, "CheckedTime": utcnow()}}
                        for i, checker in enumerate(("us-east-1", "eu-west-1", "ap-southeast-1"))]
        return ActionResult({"HealthCheckObservations": observations})

    del route53_backends  # imported to make sure the service is loaded before patching its responses
    Route53.get_health_check_status = emulated_health_check_status
