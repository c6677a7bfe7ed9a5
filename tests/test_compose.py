"""The container deployment (docker-compose.yml, Dockerfile, docker/), checked without a Docker engine.

The compose file is validated against the Compose Specification schema with check-jsonschema, then the
promises docs/deploy.md makes are asserted on the parsed file. Nothing here needs Django or a database.
"""

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml  # PyYAML: a dependency of drf-spectacular, so always installed with the project.

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKER_DIR = ROOT / "docker"

APP_SERVICES = ("web", "worker", "trainer", "beat")
REQUIRED_SERVICES = {"postgres", "redis", *APP_SERVICES}
SHARED_ENVIRONMENT_KEYS = {
    "DJANGO_SETTINGS_MODULE",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SECURE_SSL_REDIRECT",
    "DJANGO_SECURE_COOKIES",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    # safe_load resolves anchors, aliases and `<<` merge keys, as Compose does.
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the "KEY=value" list form
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: str(value) for key, value in env.items()}


def _command(service: dict[str, Any]) -> str:
    command = service.get("command") or ""
    return " ".join(command) if isinstance(command, list) else str(command)


def _volume_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Mount target -> source, for the short ("source:target[:mode]") and the long syntax."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts[volume["target"]] = volume.get("source", "")
        else:
            source, target = volume.split(":")[:2]
            mounts[target] = source
    return mounts


def _is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith(("/", ".", "~", "$"))


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Dependency -> condition (the list form means service_started)."""
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in depends.items()}


# --- The Compose Specification --------------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification() -> None:
    # Next to the running interpreter, so the test works in whichever virtual environment runs it.
    name = "check-jsonschema.exe" if sys.platform == "win32" else "check-jsonschema"
    tool = Path(sys.executable).parent / name
    if not tool.exists():
        pytest.fail(
            f"{name} is not installed next to {sys.executable}: "
            "install the dev extras (pip install '.[dev]')."
        )
    result = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"docker-compose.yml breaks the Compose Specification:\n{result.stdout}{result.stderr}"
    )


def test_no_obsolete_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose


# --- Services and their shared environment --------------------------------------------------------------


def test_the_whole_stack_is_defined(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) >= REQUIRED_SERVICES
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")


def test_application_services_share_one_environment(services: dict[str, dict[str, Any]]) -> None:
    web = _environment(services["web"])
    assert set(web) >= SHARED_ENVIRONMENT_KEYS
    assert web["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    for name in (*APP_SERVICES, "migrate"):
        assert _environment(services[name]) == web, f"{name} does not get the same environment as web"


def test_connections_point_at_the_compose_services(services: dict[str, dict[str, Any]]) -> None:
    env = _environment(services["web"])
    assert env["DATABASE_URL"].startswith("postgres://")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379/")


def test_secrets_are_required_never_defaulted(services: dict[str, dict[str, Any]]) -> None:
    env = _environment(services["web"])
    assert re.fullmatch(r"\$\{SECRET_KEY:\?.+\}", env["SECRET_KEY"])
    assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]
    assert _environment(services["postgres"])["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_https_protection_is_on_unless_switched_off(services: dict[str, dict[str, Any]]) -> None:
    env = _environment(services["web"])
    assert env["DJANGO_SECURE_SSL_REDIRECT"] == "${DJANGO_SECURE_SSL_REDIRECT:-true}"
    assert env["DJANGO_SECURE_COOKIES"] == "${DJANGO_SECURE_COOKIES:-true}"


def test_demo_data_is_opt_in(services: dict[str, dict[str, Any]]) -> None:
    assert _environment(services["web"])["ZHIZE_LOAD_DEMO"] == "${ZHIZE_LOAD_DEMO:-0}"
    assert not any("load_demo" in _command(service) for service in services.values())
    assert "ZHIZE_LOAD_DEMO" in (DOCKER_DIR / "migrate.sh").read_text(encoding="utf-8")


def test_image_is_built_once_and_shared(services: dict[str, dict[str, Any]]) -> None:
    builders = [name for name, service in services.items() if "build" in service]
    assert builders == ["web"]
    image = services["web"]["image"]
    for name in ("migrate", "worker", "trainer", "beat"):
        assert services[name]["image"] == image
        assert services[name]["pull_policy"] == "never", f"{name} would try to pull a locally built image"


def test_processes(services: dict[str, dict[str, Any]]) -> None:
    assert "celery -A config worker" in _command(services["worker"])
    # Training has its own worker, in its own process (joblib may not fork from a prefork pool's).
    assert "celery -A config worker" in _command(services["trainer"])
    assert "-Q training --pool solo" in _command(services["trainer"])
    assert "celery -A config beat" in _command(services["beat"])
    assert "--appendonly yes" in _command(services["redis"])
    # web runs the image's default command (gunicorn); its published port ends at the container's 8000.
    assert "command" not in services["web"]
    assert any(str(port).endswith(":8000") for port in services["web"]["ports"])


# --- Health, start order and restarts -------------------------------------------------------------------


def test_long_running_services_restart_and_are_health_checked(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if service.get("restart") == "no":
            continue
        assert service.get("restart") in {"always", "unless-stopped", "on-failure"}, (
            f"{name} has no restart policy"
        )
        has_healthcheck = bool(service.get("healthcheck")) and not service["healthcheck"].get("disable")
        waits_for_health = "service_healthy" in _depends_on(service).values()
        assert has_healthcheck or waits_for_health, (
            f"{name} neither has a healthcheck nor waits for healthy ones"
        )
    for name in ("postgres", "redis", "web"):
        assert services[name].get("healthcheck"), f"{name} needs a healthcheck"


def test_start_conditions_can_be_met(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for dependency, condition in _depends_on(service).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            if condition == "service_healthy":
                assert services[dependency].get("healthcheck"), f"{name} waits for {dependency} to be healthy"
            if condition == "service_completed_successfully":
                assert services[dependency].get("restart") == "no", f"{dependency} must be a one-shot service"


def test_migrations_run_once_before_the_application(services: dict[str, dict[str, Any]]) -> None:
    migrate = services["migrate"]
    assert "docker/migrate.sh" in _command(migrate)
    assert migrate["restart"] == "no"
    assert "migrate" in (DOCKER_DIR / "migrate.sh").read_text(encoding="utf-8")
    for name in APP_SERVICES:
        assert _depends_on(services[name]).get("migrate") == "service_completed_successfully"
        assert "migrate" not in _command(services[name])


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_migrate_script_is_valid_shell() -> None:
    result = subprocess.run(
        ["sh", "-n", str(DOCKER_DIR / "migrate.sh")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


# --- Volumes --------------------------------------------------------------------------------------------


def test_named_volumes_are_declared(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for target, source in _volume_mounts(service).items():
            if _is_named_volume(source):
                assert source in declared, f"{name} mounts {source} at {target} but it is not declared"


@pytest.mark.parametrize(
    ("service", "target"),
    [
        ("postgres", "/var/lib/postgresql/data"),
        ("redis", "/data"),
        ("web", "/app/var/media"),
        ("worker", "/app/var/media"),
        ("beat", "/app/var/beat"),
    ],
)
def test_state_lives_in_named_volumes(services: dict[str, dict[str, Any]], service: str, target: str) -> None:
    assert _is_named_volume(_volume_mounts(services[service]).get(target, "")), f"{service}:{target}"


def test_beat_schedule_is_kept_in_its_volume(services: dict[str, dict[str, Any]]) -> None:
    match = re.search(r"--schedule[ =](\S+)", _command(services["beat"]))
    assert match, "beat must be given --schedule"
    assert str(Path(match.group(1)).parent) in _volume_mounts(services["beat"])


# --- Dockerfile and helpers -----------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_builds_an_unprivileged_gunicorn_image() -> None:
    instructions = _dockerfile_instructions()
    values = {keyword: [rest for kw, rest in instructions if kw == keyword] for keyword, _ in instructions}
    # The image is the last stage; an earlier one only builds the browser libraries (npm ci).
    assert values["FROM"][-1] == "python:3.11-slim"
    assert all(" AS " in stage for stage in values["FROM"][:-1])
    assert values["USER"] and values["USER"][-1].split(":")[0] not in {"root", "0"}
    assert values["EXPOSE"] == ["8000"]
    runs = " ".join(values["RUN"])
    for step in ("pip install --no-cache-dir .", "compile_translations", "collectstatic --noinput"):
        assert step in runs
    command = values["CMD"][-1]
    assert "gunicorn" in command and "config.wsgi:application" in command and "0.0.0.0:8000" in command
    # Build-time placeholders must not be baked into the image's environment.
    assert not any("SECRET_KEY" in rest for rest in values["ENV"])


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    entries = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".env", ".venv", ".git", "var"} <= entries


def _healthcheck_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("zhize_docker_healthcheck", DOCKER_DIR / "healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("allowed_hosts", "host"),
    [
        ("", "localhost"),
        ("localhost,127.0.0.1", "localhost"),
        (" zhize.example.gov.cn , localhost", "zhize.example.gov.cn"),
        (".example.gov.cn", "example.gov.cn"),
        ("*", "localhost"),
    ],
)
def test_web_healthcheck_sends_an_allowed_host(allowed_hosts: str, host: str) -> None:
    assert _healthcheck_module().host_header(allowed_hosts) == host
