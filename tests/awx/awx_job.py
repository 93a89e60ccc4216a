"""Launch the collection's AWX job templates the way AWX 24.6.1 starts a job, with ansible-runner.

What AWX does for a job (awx/main/tasks/jobs.py and models/mixins.py at 24.6.1), and what this does:

- launch: the survey answers are validated against the template's survey spec (required, type, choices,
  min/max); a bad answer is refused with AWX's message and no job starts (`LaunchRefused`). Unanswered
  questions take their survey default.
- private data dir (a new temporary directory per job):
  - `project/`: the project checkout. AWX clones the SCM branch; here, the files git knows in this checkout
    (tracked and untracked-but-not-ignored, symlinks kept), i.e. a clean copy with no .venv or local state.
  - `inventory/hosts`: AWX writes the inventory it imported as an executable script printing JSON. The import
    of an SCM source is `ansible-inventory --list --export -i <source> --playbook-dir <its dir>`, run once per
    inventory here too; host variables get AWX's `remote_tower_enabled`/`remote_tower_id`.
  - `env/extravars`: AWX's meta variables (`awx_job_id`, `awx_job_template_name`, ... and their `tower_*`
    twins) plus the survey answers.
  - `env/envvars`: the credential's injected variables (Amazon Web Services type: `AWS_ACCESS_KEY_ID`,
    `AWS_SECRET_ACCESS_KEY`), AWX's job variables (`JOB_ID`, `INVENTORY_ID`, `AWX_PRIVATE_DATA_DIR`, ...) and
    the collection/role paths AWX computes from the project's ansible.cfg (`requirements_collections` first).
  - `env/cmdline`: `-u root`, `--check` for a check job, `--diff`, `-l <limit>`, as AWX's build_args.
- run: `ansible-runner run <private data dir> -p <playbook>` (cwd = project/), the process environment
  scrubbed of the developer's AWS and Ansible variables (an execution environment starts without them).

What differs from AWX, on purpose: no container (the job runs with this machine's venv, which holds what
execution-environment.yml puts in the image), no project sync from Galaxy (requirements_collections stays
empty: the venv's `ansible` package has amazon.aws/community.*), and the test emulator's endpoint is passed as
`AWS_ENDPOINT_URL` in envvars (in AWX: a custom credential type or AWX_TASK_ENV).
"""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import jinja2
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
CONTAINER_ROOT = "/runner"  # where AWX mounts the private data dir; paths in env are rewritten to the real one
AWX_VERSION = "24.6.1"
# The AWS credential's secret: a value the tests grep every job's output and artifacts for.
CREDENTIAL = {"AWS_ACCESS_KEY_ID": "AKIAAWXCREDENTIAL01", "AWS_SECRET_ACCESS_KEY": "awx-credential-secret-6f1c0e9b2d"}
# Variables an execution environment does not inherit from the machine that runs the tests.
SCRUBBED_PREFIXES = ("AWS_", "ANSIBLE_", "BOTO_", "MOLECULE_")


class LaunchRefused(Exception):
    """AWX answered the launch with 400: the survey answers do not fit the survey."""


def templates():
    with open(os.path.join(ROOT, "playbooks", "vars", "awx_templates.yml")) as f:
        data = yaml.safe_load(f)
    return data


def template(name):
    data = templates()
    for tpl in data["awx_job_templates"]:
        if tpl["name"] == name:
            return tpl, data
    raise KeyError(name)


def _render(value, context):
    """awx_configure.yml sends the templates through Jinja; survey choices may be expressions."""
    if isinstance(value, str) and "{{" in value:
        rendered = jinja2.Environment().from_string(value).render(**context)
        try:
            return ast.literal_eval(rendered)
        except (ValueError, SyntaxError):
            return rendered
    return value


def survey_spec(tpl, data):
    context = {k: v for k, v in data.items() if not k.startswith("awx_job")}
    spec = []
    for question in tpl.get("survey") or []:
        question = dict(question)
        if "choices" in question:
            question["choices"] = _render(question["choices"], context)
        spec.append(question)
    return spec


def _bounds(q):
    return [None if q.get(k) in ("", None) else int(q[k]) for k in ("min", "max")]


def _text_errors(q, var, value):
    if not isinstance(value, str):
        return ["Value %s for '%s' expected to be a string." % (value, var)]
    low, high = _bounds(q)
    if low is not None and len(value) < low:
        return ["'%s' value %s is too small (length is %s must be at least %s)." % (var, value, len(value), q["min"])]
    if high is not None and len(value) > high:
        return ["'%s' value %s is too large (must be no more than %s)." % (var, value, q["max"])]
    return []


def _integer_errors(q, var, value):
    if isinstance(value, bool) or not isinstance(value, int):  # AWX: type(value) != int
        return ["Value %s for '%s' expected to be an integer." % (value, var)]
    low, high = _bounds(q)
    errors = []
    if low is not None and value < low:
        errors.append("'%s' value %s is too small (must be at least %s)." % (var, value, q["min"]))
    if high is not None and value > high:
        errors.append("'%s' value %s is too large (must be no more than %s)." % (var, value, q["max"]))
    return errors


def _choice_errors(q, var, value):
    choices = q.get("choices") or []
    if isinstance(choices, str):
        choices = choices.split("\n")
    return [] if value in choices else ["Value %s for '%s' expected to be one of %s." % (value, var, choices)]


_CHECKS = {"text": _text_errors, "textarea": _text_errors, "password": _text_errors,
           "integer": _integer_errors, "multiplechoice": _choice_errors}


def validate_survey(spec, answers):
    """AWX's SurveyJobTemplateMixin._survey_element_validation, for the types our surveys use."""
    errors = []
    for q in spec:
        var = q["variable"]
        if var not in answers:
            if q.get("required"):
                errors.append("'%s' value missing" % var)
            continue
        check = _CHECKS.get(q["type"])
        if check:
            errors.extend(check(q, var, answers[var]))
    return errors


def copy_project(dest):
    """The files a clone of this checkout would hold (tracked + untracked-not-ignored), symlinks kept."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, check=True).stdout.decode()
    for rel in filter(None, out.split("\0")):
        src, dst = os.path.join(ROOT, rel), os.path.join(dest, rel)
        if not os.path.lexists(src):
            continue  # deleted in the work tree, not yet committed
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)


def clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    return env


def import_inventory(project, source, strip_vars=()):
    """AWX's SCM inventory update: ansible-inventory --list --export on the source inside the project."""
    src = os.path.join(project, source)
    cmd = [os.path.join(BIN, "ansible-inventory"), "--list", "--export", "-i", src,
           "--playbook-dir", os.path.dirname(src)]
    proc = subprocess.run(cmd, cwd=project, env=clean_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError("inventory import failed: %s" % proc.stderr)
    data = json.loads(proc.stdout)
    for group in data.values():
        for name in strip_vars:
            (group.get("vars") or {}).pop(name, None)
    for index, (host, hostvars) in enumerate(sorted(data.get("_meta", {}).get("hostvars", {}).items()), start=1):
        for name in strip_vars:
            hostvars.pop(name, None)
        hostvars.update(remote_tower_enabled="true", remote_tower_id=index)
    return data


def ansible_config_value(project, key):
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(project, "ansible.cfg"))
    return cfg.get("defaults", key, fallback=None)


def awx_path_env(project, pdd):
    """build_env's path_vars: requirements_* first, then the project's ansible.cfg setting, then the defaults."""
    env = {}
    path_vars = (
        ("ANSIBLE_COLLECTIONS_PATHS", "collections_paths", "requirements_collections", "~/.ansible/collections:/usr/share/ansible/collections"),
        ("ANSIBLE_ROLES_PATH", "roles_path", "requirements_roles", "~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles"),
        ("ANSIBLE_COLLECTIONS_PATH", "collections_path", "requirements_collections", "~/.ansible/collections:/usr/share/ansible/collections"),
    )
    for env_key, setting, folder, default in path_vars:
        paths = default.split(":")
        configured = ansible_config_value(project, setting)
        if configured:
            for path in configured.split(":"):
                if path not in paths:
                    paths = [configured] + paths
        paths = [os.path.join(pdd, folder)] + paths  # CONTAINER_ROOT/<folder> in the execution environment
        env[env_key] = os.pathsep.join(paths)
        os.makedirs(os.path.join(pdd, folder), exist_ok=True)
    return env


class Job:
    """One launched job: rc, status, stdout, the private data dir (kept for inspection until cleanup)."""

    def __init__(self, pdd, rc, status, stdout):
        self.pdd, self.rc, self.status = pdd, rc, status
        self.raw_stdout = stdout
        self.stdout = re.sub(r"\x1b\[[0-9;]*m", "", stdout)  # AWX shows colours; the tests read plain text

    def artifacts_text(self):
        """Everything the job left in its private data dir except the project copy (events, env, stdout)."""
        chunks = []
        for top, dirs, files in os.walk(self.pdd):
            if os.path.relpath(top, self.pdd).split(os.sep)[0] in ("project", "requirements_collections"):
                continue
            for name in files:
                path = os.path.join(top, name)
                if os.path.relpath(path, self.pdd) == os.path.join("env", "envvars"):
                    continue  # the credential itself, as AWX writes it (AWX deletes the dir after the job)
                with open(path, "rb") as f:
                    chunks.append(f.read().decode("utf-8", "replace"))
        return "\n".join(chunks)

    def cleanup(self):
        shutil.rmtree(self.pdd, ignore_errors=True)


def write_env(pdd, project, name, job_id, extra, extravars_override, extra_env):
    """env/extravars (AWX's job metadata, then the survey answers) and env/envvars (credential, AWX's paths)."""
    meta = {}
    for prefix in ("awx", "tower"):
        meta.update({
            "%s_job_id" % prefix: job_id, "%s_job_launch_type" % prefix: "manual",
            "%s_user_id" % prefix: 1, "%s_user_name" % prefix: "ops", "%s_inventory_id" % prefix: 1,
            "%s_inventory_name" % prefix: "EHRbase local", "%s_job_template_id" % prefix: job_id,
            "%s_job_template_name" % prefix: name, "%s_project_revision" % prefix: "0" * 40,
            "%s_project_scm_branch" % prefix: "main", "%s_execution_node" % prefix: "awx-task-0",
        })
    meta.update(extra)
    meta.update(extravars_override or {})
    with open(os.path.join(pdd, "env", "extravars"), "w") as f:
        yaml.safe_dump(meta, f)

    envvars = dict(CREDENTIAL, JOB_ID=str(job_id), INVENTORY_ID="1", PROJECT_REVISION="0" * 40,
                   AWX_PRIVATE_DATA_DIR=pdd, ANSIBLE_RETRY_FILES_ENABLED="False", ANSIBLE_FORCE_COLOR="False",
                   ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_INVENTORY_UNPARSED_FAILED="True",
                   ANSIBLE_PARAMIKO_RECORD_HOST_KEYS="False", ANSIBLE_SSH_CONTROL_PATH_DIR=os.path.join(pdd, "cp"),
                   PYTHONUNBUFFERED="1", **awx_path_env(project, pdd))
    envvars.update(extra_env or {})
    with open(os.path.join(pdd, "env", "envvars"), "w") as f:
        yaml.safe_dump(envvars, f)
    os.chmod(os.path.join(pdd, "env", "envvars"), 0o600)


def write_cmdline(pdd, job_type, diff, limit):
    """env/cmdline: the prompts AWX turns into ansible-playbook options."""
    cmdline = []
    if job_type == "check":
        cmdline.append("--check")
    cmdline += ["-u", "root"]
    if diff:
        cmdline.append("--diff")
    if limit:
        cmdline += ["-l", limit]
    with open(os.path.join(pdd, "env", "cmdline"), "w") as f:
        f.write(" ".join(cmdline))


def launch(name, answers=None, limit=None, job_type="run", diff=False, inventory_source="inventories/local/hosts.yml",
           strip_inventory_vars=(), extra_env=None, job_id=1, timeout=1800, extravars_override=None):
    """Launch template `name` as AWX would. Raises LaunchRefused for survey answers AWX would refuse.

    extravars_override: extra variables that reach the job without survey validation (the API's extra_vars on a
    template that prompts for variables), to prove the playbook's own refusals.
    """
    tpl, data = template(name)
    spec = survey_spec(tpl, data)
    answers = dict(answers or {})
    extra = {q["variable"]: q["default"] for q in spec if "default" in q and q["variable"] not in answers}
    extra.update(answers)
    errors = validate_survey(spec, extra)
    if errors:
        raise LaunchRefused("; ".join(errors))
    if limit and not tpl.get("ask_limit_on_launch"):
        raise LaunchRefused("Field is not configured to prompt on launch: limit")
    if job_type != "run" and not tpl.get("ask_job_type_on_launch"):
        raise LaunchRefused("Field is not configured to prompt on launch: job_type")

    pdd = tempfile.mkdtemp(prefix="awx_%d_" % job_id)
    project = os.path.join(pdd, "project")
    os.makedirs(project)
    copy_project(project)
    os.makedirs(os.path.join(pdd, "inventory"))
    os.makedirs(os.path.join(pdd, "env"))
    script = os.path.join(pdd, "inventory", "hosts")
    inventory = import_inventory(project, inventory_source, strip_inventory_vars)
    with open(script, "w") as f:
        f.write("#! %s\n# -*- coding: utf-8 -*-\nprint(%r)\n" % (sys.executable, json.dumps(inventory)))
    os.chmod(script, 0o700)

    write_env(pdd, project, name, job_id, extra, extravars_override, extra_env)
    write_cmdline(pdd, job_type, diff, limit)

    proc = subprocess.run([os.path.join(BIN, "ansible-runner"), "run", pdd, "-p", tpl["playbook"], "--ident", str(job_id)],
                          env=clean_env(), capture_output=True, text=True, timeout=timeout, check=False)
    artifacts = os.path.join(pdd, "artifacts", str(job_id))
    status = open(os.path.join(artifacts, "status")).read().strip() if os.path.exists(os.path.join(artifacts, "status")) else "error"
    rc_path = os.path.join(artifacts, "rc")
    rc = int(open(rc_path).read().strip()) if os.path.exists(rc_path) else proc.returncode
    stdout_path = os.path.join(artifacts, "stdout")
    # ansible-runner prints the job's stdout and also keeps it as an artifact (what AWX stores): read the artifact.
    stdout = open(stdout_path).read() if os.path.exists(stdout_path) else proc.stdout
    return Job(pdd, rc, status, stdout + proc.stderr)
