"""The native local stack: real Kafka, PostgreSQL, Redis and S3 on loopback, no Docker needed."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clipforge_common.settings import Settings, get_settings
from clipforge_common.stack.components import Component, Health, Kafka, Postgres, Redis, S3Proxy, StackError

__all__ = ["Health", "Stack", "StackError"]


@dataclass
class Stack:
    settings: Settings
    brokers: int = 1

    @classmethod
    def from_settings(cls, brokers: int | None = None) -> Stack:
        settings = get_settings()
        stack = cls(settings=settings, brokers=1)
        if brokers is None:
            # `status` and `down` follow whatever cluster size `up` chose.
            brokers = stack._recorded_brokers()
        stack.brokers = brokers
        return stack

    @property
    def state(self) -> Path:
        return self.settings.home / "stack"

    def _recorded_brokers(self) -> int:
        try:
            return int(json.loads((self.state / "stack.json").read_text())["brokers"])
        except (OSError, ValueError, KeyError):
            return 1

    @property
    def kafka(self) -> Kafka:
        return Kafka(self.settings, self.state, self.brokers)

    def components(self) -> list[Component]:
        return [self.kafka, Postgres(self.settings, self.state), Redis(self.settings, self.state),
                S3Proxy(self.settings, self.state)]  # fmt: skip

    def up(self, progress: Any = print) -> list[Health]:
        self.state.mkdir(parents=True, exist_ok=True)
        running = Kafka(self.settings, self.state, self._recorded_brokers()).running_brokers()
        if running and running != self.brokers and self._recorded_brokers() != self.brokers:
            raise StackError(
                f"a {self._recorded_brokers()}-broker Kafka is running; run `clipforge stack down` "
                f"before starting {self.brokers} brokers"
            )
        (self.state / "stack.json").write_text(json.dumps({"brokers": self.brokers}))
        for component in self.components():
            health = component.health()
            if health.healthy:
                progress(f"{component.name}: already healthy at {component.endpoint}")
                continue
            progress(f"{component.name}: starting at {component.endpoint} ...")
            component.start()
            progress(f"{component.name}: healthy")
        return self.status()

    def down(self, progress: Any = print, purge: bool = False) -> None:
        for component in reversed(self.components()):
            if component.stop():
                progress(f"{component.name}: stopped")
            else:
                progress(f"{component.name}: was not started by this stack")
        if purge:
            # Data lives under the state directory, except PostgreSQL's when the postgres user
            # cannot reach it there (see Postgres.data_root).
            pg_root = Postgres(self.settings, self.state).data_root()
            if not pg_root.is_relative_to(self.state):
                pg_root = pg_root.parent  # the per-checkout folder under /var/lib/clipforge
            for path in (pg_root, self.state):
                shutil.rmtree(path, ignore_errors=True)
            progress(f"state removed: {self.state}")

    def status(self) -> list[Health]:
        return [component.health() for component in self.components()]
