"""The drill's steps in order, with the restore guaranteed whenever the health check was touched."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from dynamowave.drill.deps import Deps
from dynamowave.drill.model import (
    PRIMARY,
    SECONDARY,
    DrillError,
    DrillInputs,
    HealthCheckConfig,
    Settings,
    default_timeout,
    restore_command,
)
from dynamowave.drill.observe import Observer
from dynamowave.drill.preflight import PREFLIGHT_PASSED, check_preflight
from dynamowave.drill.report import EXIT_CODES, STEP_NAMES, Outcome, Report, Sample, Step
from dynamowave.drill.route53 import get_health_check_config
from dynamowave.drill.signals import signals_deferred, sigterm_as_interrupt
from dynamowave.drill.terminal import Progress, say


class Drill:
    def __init__(self, inputs: DrillInputs, settings: Settings, deps: Deps) -> None:
        self.inputs, self.settings, self.deps = inputs, settings, deps
        self.clock = deps.clock
        self.report = Report(env=settings.env, started_at=self._iso(), inputs=asdict(inputs))
        self.report.steps = [Step(n) for n in STEP_NAMES]
        self.observer = Observer(inputs, settings, deps)
        self.original: HealthCheckConfig | None = None
        self.touched = False

    def _iso(self) -> str:
        return self.clock.now().isoformat(timespec="seconds")

    def say(self, text: str) -> None:
        say(self.deps.out, text)

    @contextlib.contextmanager
    def _step(self, name: str) -> Iterator[Step]:
        step = self.report.step(name)
        step.started_at = self._iso()
        start = self.clock.monotonic()
        self.say(f"==> {name}")
        try:
            yield step
        except KeyboardInterrupt:
            step.status = "interrupted"
            raise
        except BaseException as err:
            step.status = "failed"
            step.detail = step.detail or str(err)
            raise
        else:
            step.status = "ok"
        finally:
            step.duration_s = round(self.clock.monotonic() - start, 3)

    def observe(self, phase: str) -> Sample:
        sample = self.observer.sample(phase)
        self.report.timeline.append(sample)
        return sample

    # -- steps

    def preflight(self) -> None:
        with self._step("preflight") as step:
            self.original = check_preflight(self.observer, self.report, self.say)
            step.detail = PREFLIGHT_PASSED

    def fail_primary(self) -> None:
        assert self.original is not None
        with self._step("fail_primary") as step:
            target = not self.original.inverted
            # Mark before the call: if the request reaches Route 53 but the reply is lost, we still restore.
            self.touched = True
            kwargs: dict[str, Any] = {"HealthCheckId": self.original.health_check_id, "Inverted": target}
            if self.original.version is not None:
                # Route 53 refuses the update if someone changed the check since we read it.
                kwargs["HealthCheckVersion"] = self.original.version
            try:
                self.deps.route53.update_health_check(**kwargs)
            except self.deps.route53.exceptions.HealthCheckVersionMismatch as err:
                # Our update was refused, so there is nothing of ours to undo, and restoring would
                # overwrite whoever changed it.
                self.touched = False
                raise DrillError(
                    f"health check {self.original.health_check_id} changed while the drill was starting; "
                    "find out who is changing it, then re-run."
                ) from err
            step.detail = f"health check {self.original.health_check_id}: Inverted {self.original.inverted} -> {target}"
            self.say(f"    {step.detail}")

    def wait_for(self, phase: str, role: str, timeout: float) -> None:
        """Poll until DNS and a pong through the failover name both show ``role``."""
        expected_region = self.inputs.role(role).region
        progress = Progress(self.deps.out, self.clock, phase, timeout)
        detected_at: float | None = None
        dns_at: float | None = None
        step = self.report.step(phase)
        try:
            while True:
                sample = self.observe(phase)
                if detected_at is None and sample["primary_healthy"] is (role == PRIMARY):
                    detected_at = progress.elapsed()
                if dns_at is None and sample["dns"] == role:
                    dns_at = progress.elapsed()
                pong = "-"
                # Health status alone never completes a wait: only a pong through the name proves
                # where clients land, and "unknown" DNS (address sets matching neither record) needs it.
                if sample["dns"] in (role, "unknown"):
                    try:
                        pong = self.observer.ping(self.inputs.failover_websocket_url)
                    except Exception as err:  # not there yet (stale DNS, handshake refused): keep polling
                        pong = f"error: {err}"[:80]
                    sample["pong"] = pong
                progress.update(f"primary {sample['primary_health']}; DNS -> {sample['dns']}; pong via name: {pong}")
                if pong == expected_region:
                    flipped = "not seen" if detected_at is None else f"after {detected_at:.0f}s"
                    dns = "never matched a record" if dns_at is None else f"after {dns_at:.0f}s"
                    step.detail = (
                        f"health check flipped {flipped}, DNS {dns}, pong from {pong} "
                        f"via {self.inputs.failover_websocket_url} after {progress.elapsed():.0f}s"
                    )
                    return
                if progress.elapsed() >= timeout:
                    raise DrillError(
                        f"{phase}: {self.inputs.domain_name} still not serving {role} ({expected_region}) "
                        f"after {timeout:.0f}s (DNS -> {sample['dns']}, pong {pong}). Check the health "
                        f"checks and records in the Route 53 console; raise --{phase}-timeout if "
                        "resolvers here cache longer than the TTL."
                    )
                self.clock.sleep(self.settings.poll_interval)
        finally:
            progress.close()

    def restore(self) -> None:
        assert self.original is not None
        with self._step("restore") as step:
            original = self.original
            last_error: Exception | None = None
            for attempt in range(1, self.settings.restore_attempts + 1):
                try:
                    # No HealthCheckVersion here: the restore must land even over a concurrent edit.
                    self.deps.route53.update_health_check(
                        HealthCheckId=original.health_check_id, Inverted=original.inverted
                    )
                    now = get_health_check_config(self.deps.route53, original.health_check_id)
                    if now.inverted != original.inverted:
                        raise DrillError(f"Inverted is {now.inverted} after the update")
                    if now.disabled != original.disabled:
                        self.say(
                            f"    warning: Disabled is now {now.disabled}, was {original.disabled} "
                            "(the drill does not change it)"
                        )
                    break
                except Exception as err:  # any failure here is retried: the restore must land
                    last_error = err
                    self.say(f"    restore attempt {attempt} failed: {err}")
                    if attempt < self.settings.restore_attempts:
                        self.clock.sleep(min(2 ** (attempt - 1), 8))
            else:
                self.report.restored = False
                raise DrillError(
                    f"could not restore health check {original.health_check_id}: {last_error}. "
                    f"RESTORE IT NOW: {restore_command(original)}"
                )
            self.report.restored = True
            step.detail = f"health check {original.health_check_id}: Inverted back to {original.inverted}"
            self.say(f"    {step.detail}")

    def execute(self) -> int:
        """Run every step and return the exit code; the restore runs whenever the check may have been touched."""
        error: BaseException | None = None
        outcome: Outcome = "passed"
        with sigterm_as_interrupt(self.deps.install_signal_handlers):
            try:
                try:
                    self.preflight()
                    self.fail_primary()
                    with self._step("failover"):
                        self.wait_for("failover", SECONDARY, self._timeout(self.settings.failover_timeout))
                except KeyboardInterrupt as err:
                    error, outcome = err, "interrupted"
                except Exception as err:
                    error, outcome = err, "failed"
                finally:
                    if self.touched:
                        with signals_deferred(self.deps.install_signal_handlers, self.deps.out):
                            try:
                                self.restore()
                            except Exception as err:
                                error, outcome = err, "restore_failed"
                # Failback is only waited for after a clean failover; after a failure the restore suffices.
                if outcome == "passed":
                    with self._step("failback"):
                        self.wait_for("failback", PRIMARY, self._timeout(self.settings.failback_timeout))
            except KeyboardInterrupt as err:
                error, outcome = err, "interrupted"
            except Exception as err:
                error, outcome = err, "failed"
        for step in self.report.steps:
            if step.status == "pending":
                step.status = "skipped"
        self.report.outcome = outcome
        if error is not None:
            self.report.error = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        self.report.finished_at = self._iso()
        return EXIT_CODES[outcome]

    def _timeout(self, flag: float | None) -> float:
        if flag is not None:
            return flag
        assert self.original is not None
        return default_timeout(self.original, self.observer.records[PRIMARY].ttl)
