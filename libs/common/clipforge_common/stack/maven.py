"""Resolve Java programs (Kafka, S3Proxy) from Maven Central into a local jar cache.

A tiny pom listing the artifact is generated and ``mvn dependency:copy-dependencies`` copies the
artifact with its whole runtime classpath into ``<cache>/<name>/``. A marker file records the exact
coordinates, so later runs start in seconds and a version change resolves again.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


class MavenError(RuntimeError):
    pass


@dataclass(frozen=True)
class Artifact:
    group: str
    artifact: str
    version: str

    @property
    def coordinates(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"


# Kafka 4.x logs through log4j2 and its slf4j 1.7 binding; without it the broker prints nothing.
LOG4J_VERSION = "2.25.3"
KAFKA_VERSION = "4.1.2"
S3PROXY_VERSION = "2.6.0"

KAFKA_ARTIFACTS = (
    Artifact("org.apache.kafka", "kafka_2.13", KAFKA_VERSION),
    Artifact("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION),
    Artifact("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
)
S3PROXY_ARTIFACTS = (Artifact("org.gaul", "s3proxy", S3PROXY_VERSION),)


def _pom(name: str, artifacts: tuple[Artifact, ...]) -> str:
    deps = "\n".join(
        f"    <dependency><groupId>{a.group}</groupId><artifactId>{a.artifact}</artifactId>"
        f"<version>{a.version}</version></dependency>"
        for a in artifacts
    )
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.clipforge.stack</groupId>
  <artifactId>{name}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
</project>
"""


def resolve_classpath(name: str, artifacts: tuple[Artifact, ...], cache_dir: Path) -> Path:
    """Return a directory holding every jar of ``artifacts``; resolve with Maven when not cached."""
    target = cache_dir / name
    libs = target / "libs"
    marker = target / "resolved.txt"
    wanted = "\n".join(a.coordinates for a in artifacts)
    if marker.exists() and marker.read_text() == wanted and any(libs.glob("*.jar")):
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MavenError("Maven (mvn) is not on PATH; install it (apt-get install maven) to fetch the jars")
    if libs.exists():
        shutil.rmtree(libs)
    target.mkdir(parents=True, exist_ok=True)
    (target / "pom.xml").write_text(_pom(name, artifacts))
    proc = subprocess.run(
        [
            mvn,
            "-B",
            "-q",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ],
        cwd=target,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not any(libs.glob("*.jar")):
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise MavenError(f"resolving {wanted.replace(chr(10), ', ')} with Maven failed:\n{tail}")
    marker.write_text(wanted)
    return libs
