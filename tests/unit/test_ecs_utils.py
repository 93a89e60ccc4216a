"""The comparisons that decide whether ECS gets a new task definition revision or a service update."""

from ansible_collections.medzen.ehrbase.plugins.module_utils.ecs import subset_equal, task_definition_matches

DESIRED = {
    "family": "f", "cpu": "1024", "memory": "2048", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
    "executionRoleArn": "arn:aws:iam::1:role/x",
    "containerDefinitions": [{
        "name": "ehrbase", "image": "ehrbase/ehrbase:2.30.0", "essential": True,
        "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
        "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
        "secrets": [{"name": "DB_PASS", "valueFrom": "arn:aws:secretsmanager:r:1:secret:s-AbC:password::"}],
    }],
}


def described(**container_changes):
    """What DescribeTaskDefinition returns: our fields, other order, plus AWS defaults."""
    container = dict(DESIRED["containerDefinitions"][0], mountPoints=[], volumesFrom=[], systemControls=[],
                     portMappings=[{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                     environment=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    container.update(container_changes)
    return dict(DESIRED, containerDefinitions=[container], revision=3, status="ACTIVE",
                compatibilities=["EC2", "FARGATE"], registeredAt="now")


def test_same_definition_with_aws_defaults_and_other_order_matches():
    assert task_definition_matches(DESIRED, described())


def test_changed_image_secret_or_env_does_not_match():
    assert not task_definition_matches(DESIRED, described(image="ehrbase/ehrbase:2.31.0"))
    assert not task_definition_matches(DESIRED, described(secrets=[]))
    assert not task_definition_matches(DESIRED, described(environment=[{"name": "A", "value": "1"}]))
    assert not task_definition_matches(dict(DESIRED, memory="4096"), described())
    assert not task_definition_matches(DESIRED, None)


def test_subset_equal_ignores_extra_keys_but_not_extra_items():
    assert subset_equal({"a": 1}, {"a": 1, "b": 2})
    assert not subset_equal([1], [1, 2])
    assert not subset_equal({"a": {"b": 1}}, {"a": {"b": 2}})
