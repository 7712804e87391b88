"""A keras-tuner search over alpha for the Lambda model: one parent run, every trial a child
(recorded as a sweep job is), trained ``search.population`` trials at a time, then one trainable
reference run on the same task and seed, and the comparison of both."""

from __future__ import annotations

import math
import os
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from alphalab.config import ConfigError, first_line
from alphalab.config.names import Approach, Kind, Status
from alphalab.config.paths import project_root
from alphalab.config.spec import Alpha, RunSpec, SearchSpec
from alphalab.engine import distributed
from alphalab.engine.outcome import FitOutcome
from alphalab.engine.record import Job, WarmStart, run_params
from alphalab.engine.runs import run_jobs
from alphalab.results.compare import log_selected_models, record_comparison
from alphalab.tracking import names
from alphalab.tracking.parent import ParentRun
from alphalab.tracking.runs import writer_line
from alphalab.tracking.store import Tracker, sqlite_path, tracker_for


class SearchFailed(RuntimeError):
    """The search could not finish; the message is one line for the user."""


def tuner_directory(search: SearchSpec, tracker: Tracker) -> Path:
    """keras-tuner's state: ``search.directory``, else beside a SQLite store, else under the
    project's mlruns/."""
    if search.directory:
        return Path(search.directory)
    db = sqlite_path(tracker.uri)
    return (db.parent if db is not None else project_root() / "mlruns") / "keras-tuner"


def reference_job(run: RunSpec) -> Job:
    """The search's one trainable run, from the configured alpha, on the same task and seed."""
    return Job(run.with_alpha(Approach.TRAINABLE, run.alpha), Kind.REFERENCE)


class TrialTrainer:
    """Trains the trials the oracle hands out, as populations, and reports them back: each
    trial's best and last epochs (``update_trial``), then its end (``end_trial``)."""

    def __init__(self, run: RunSpec, search: SearchSpec, tuner, parent: str, reference: Job | None):
        self.run, self.search, self.tuner, self.parent = run, search, tuner, parent
        self.reference = reference  # trains with the first population, unless done before
        self.trials: dict[str, object] = {}  # trial id -> keras-tuner trial, while it runs
        self.trained: dict[str, tuple[str, dict]] = {}  # trial id -> (run id, weights)
        self.failed: list[str] = []  # trials whose fit crashed
        self.new = 0  # trials trained in this session
        self.stop: BaseException | None = None  # the oracle's own reason to stop

    def job(self, trial) -> Job:
        """A trial as the job it is: the run at the trial's alpha (and Hyperband's epochs)."""
        values = trial.hyperparameters.values
        alpha = Alpha(float(values["alpha_real"]), float(values["alpha_imag"]))
        spec = self.run.with_alpha(Approach.LAMBDA, alpha)
        if "tuner/epochs" in values:  # Hyperband: this round's budget, after an earlier round's
            epochs = int(values["tuner/epochs"]) - int(values.get("tuner/initial_epoch", 0))
            spec = replace(spec, train=replace(spec.train, epochs=max(epochs, 1)))
            spec.config["train"] = {**spec.config["train"], "epochs": spec.train.epochs}
        warm = self.earlier(values.get("tuner/trial_id"))
        trial_id = trial.trial_id
        return Job(
            spec,
            Kind.TRIAL,
            key=f"trial-{trial_id}",
            warm_start=warm,
            executions=self.search.executions_per_trial,
            tags={names.TRIAL_ID: trial_id},
            params={"trial_id": trial_id},
            label=f"trial {trial_id} · ",
        )

    def earlier(self, trial_id: str | None) -> WarmStart | None:
        """Hyperband's promoted trial starts from the weights its earlier round ended with."""
        if trial_id is None:
            return None
        if trial_id not in self.trained:  # trained in an earlier session: ask the store
            found = self.tuner_tracker.search(
                f"tags.`{names.PARENT}` = '{self.parent}' and "
                f"tags.`{names.TRIAL_ID}` = '{trial_id}' and attributes.status = 'FINISHED'"
            )
            if not found:
                return None
            self.trained[trial_id] = (
                found[-1].info.run_id,
                _weights(self.tuner_tracker, found[-1]),
            )
        run_id, weights = self.trained[trial_id]
        return WarmStart(run_id, f"trial-{trial_id}", weights) if weights else None

    @property
    def tuner_tracker(self) -> Tracker:
        """The store the trials are recorded in."""
        return tracker_for(self.run.tracking)

    def __call__(self, trials: list) -> None:
        """Train ``trials`` (and the reference, once) as populations and record them."""
        jobs = [self.job(trial) for trial in trials]
        self.trials.update({trial.trial_id: trial for trial in trials})
        if self.reference is not None:
            jobs.append(self.reference)
            self.reference = None
        results = run_jobs(jobs, parent_id=self.parent, on_trained=self.report)
        for job, result in zip(jobs, results, strict=True):  # a crashed fit reported nothing:
            trial = self.trials.pop(job.params.get("trial_id"), None)  # the oracle must hear
            if trial is not None:
                self._end(trial, job, FitOutcome(crash=result.error or "the fit crashed"))
        for job, result in zip(jobs, results, strict=True):
            if job.kind == Kind.TRIAL:
                trial_id = job.params["trial_id"]
                self.trained[trial_id] = (result.run_id, self.trained.get(trial_id, ("", {}))[1])
                self.new += 1
            shown = f"{result.final_val_loss:.4g}" if math.isfinite(result.final_val_loss) else "—"
            label = job.label.split(" · ")[0] if job.label else job.kind
            print(
                f"[{label}] {result.name[len(job.label) :]:<44} val_loss {shown:<10} "
                f"{result.status_text}" + (f"  ({result.error})" if result.error else ""),
                flush=True,
            )
        if self.stop is not None:  # keras-tuner's reason, and the trials' own
            reasons = [first_line(self.stop).rstrip("."), *self.failed[:1]]
            raise RuntimeError("; ".join(reasons)) from self.stop

    def report(self, jobs: list[Job], outcomes: list[FitOutcome]) -> list[tuple[dict, dict]]:
        """Tell the oracle each trial's best and last epochs and end it; what each trial's
        record adds."""
        extras = []
        for job, outcome in zip(jobs, outcomes, strict=True):
            if job.kind != Kind.TRIAL:
                extras.append(({}, {}))
                continue
            trial_id = job.params["trial_id"]
            trial = self.trials.pop(trial_id)
            self.trained[trial_id] = ("", outcome.weights or {})
            extras.append(self._end(trial, job, outcome))
        return extras

    def _end(self, trial, job: Job, outcome: FitOutcome) -> tuple[dict, dict]:
        from keras_tuner.engine.trial import TrialStatus

        oracle = self.tuner.oracle
        start = int(trial.hyperparameters.values.get("tuner/initial_epoch", 0))
        losses, val_losses = (
            outcome.history.get(names.LOSS, []),
            outcome.history.get(names.VAL_LOSS, []),
        )
        epochs = list(zip(losses, val_losses, strict=False))
        scored = [v if self.search.objective == names.VAL_LOSS else loss for loss, v in epochs]
        for epoch in reported_epochs(scored):
            loss, val_loss = epochs[epoch]
            oracle.update_trial(
                trial.trial_id, {names.LOSS: loss, names.VAL_LOSS: val_loss}, step=start + epoch
            )
        done = outcome.error is None and outcome.crash is None and math.isfinite(outcome.last(
            names.VAL_LOSS))  # fmt: skip
        trial.status = TrialStatus.COMPLETED if done else TrialStatus.FAILED
        if outcome.crash:
            trial.message = outcome.crash
            self.failed.append(f"trial {trial.trial_id}: {outcome.crash}")
        elif not done:
            trial.message = outcome.error or "no finite val_loss"
        try:
            oracle.end_trial(trial)
        except RuntimeError as exc:  # keras-tuner's limit of consecutive failed trials
            self.stop = self.stop or exc
        ended = oracle.get_trial(trial.trial_id)
        metrics = {}
        if ended.score is not None and math.isfinite(ended.score):
            metrics[names.TUNER_SCORE] = float(ended.score)
        return metrics, {names.TUNER_STATUS: str(ended.status)}


def reported_epochs(objective: list[float]) -> list[int]:
    """The epochs a trial reports to the oracle: the objective's best (the oracle scores a trial
    by it) and the last. Each report rewrites keras-tuner's trial.json with the history so far,
    so reporting every epoch cost a trial as much as its share of a population's fit; the
    whole history is the trial's MLflow run's."""
    if not objective:
        return []
    finite = [(value, epoch) for epoch, value in enumerate(objective) if math.isfinite(value)]
    best = min(finite)[1] if finite else len(objective) - 1
    return sorted({best, len(objective) - 1})


def _weights(tracker: Tracker, run) -> dict:
    """A logged run's ``weights.json``."""
    import json
    import tempfile

    with tempfile.TemporaryDirectory(prefix="alphalab-weights-") as tmp:
        local = tracker.client.download_artifacts(run.info.run_id, names.WEIGHTS, tmp)
        return json.loads(Path(local).read_text())


def _prepared(run: RunSpec):
    """The search's data (to record the parent's params), after seeding from ``run.seed``."""
    import keras

    from alphalab.engine.fit import prepare_data

    keras.utils.set_random_seed(run.seed)
    return prepare_data(run)


def _search(run: RunSpec, search: SearchSpec, directory: Path, parent: str, reference: Job | None):
    """Run the tuner's trials; returns the trainer (what it trained, why it stopped)."""
    from alphalab.engine.tuner import make_tuner

    tuner = make_tuner(search, run.seed, directory)
    trainer = TrialTrainer(run, search, tuner, parent, reference)
    tuner.search(trainer, search.population)
    return trainer


def run_search(run: RunSpec, search: SearchSpec) -> float:
    """Run (or continue) the configured search; return the best trial's validation loss."""
    tuner_id = distributed.role()
    distributed.check_name(search, tuner_id)
    default = f"{search.algorithm}-{datetime.now():%Y%m%d-%H%M%S}"
    search = replace(search, name=search.name or default)
    tracker = tracker_for(run.tracking)
    directory = tuner_directory(search, tracker)
    if tuner_id not in (None, "chief"):
        return run_worker(run, search, tracker, tuner_id, directory)
    data = _prepared(run)
    params = {f"search.{k}": v for k, v in search.__dict__.items()}
    params.update(run_params(run, data.params()))
    started = time.time()
    parent = ParentRun.open(tracker, search.name, Kind.SEARCH, params)
    verb = "continuing" if parent.resumed else "starting"
    if tuner_id == "chief":
        where = f"{os.environ[distributed.IP_ENV]}:{os.environ[distributed.PORT_ENV]}"
        verb = f"serving the oracle at {where} for the workers of the"
    print(
        f"alphalab: {verb} {search.algorithm} search '{search.name}' (parent run "
        f"{parent.run_id}), {search.population} trial(s) at a time; keras-tuner state in "
        f"{directory / search.name}\n"
        f"alphalab: continue it later with the same command plus search.name={search.name}\n"
        f"{writer_line(tracker)}",
        flush=True,
    )
    reference = reference_job(run) if search.reference else None
    try:
        trainer = _search(run, search, directory, parent.run_id, None if tuner_id else reference)
        if trainer.reference is not None or (tuner_id and reference is not None):
            run_jobs([reference], parent_id=parent.run_id)  # no new trial: it still runs once
        new_trials = trainer.new
        comparison = record_comparison(tracker, parent.run_id, wall_seconds=time.time() - started)
        log_selected_models(tracker, parent.run_id, comparison)
        print(comparison.console(), flush=True)
        print(f"({new_trials} new trial(s) this session)", flush=True)
        print(f"MLflow: parent run {parent.run_id} in {tracker.uri}", flush=True)
    except KeyboardInterrupt:
        parent.close(Status.KILLED, f"interrupted; continue with search.name={search.name}")
        raise
    except ConfigError:
        parent.close(Status.FAILED, "rejected config")
        raise
    except BaseException as exc:
        parent.close(Status.FAILED, f"{type(exc).__name__}: {exc}")
        raise SearchFailed(f"search '{search.name}' failed: {exc}") from exc
    if trainer.failed:
        parent.close(Status.FAILED, "; ".join(trainer.failed[:3]))
        raise SearchFailed(f"{len(trainer.failed)} trial(s) raised: {trainer.failed[0]}")
    parent.close(Status.FINISHED)
    return comparison.metrics.get("best_trial_val_loss", math.inf)


def run_worker(run: RunSpec, search: SearchSpec, tracker: Tracker, tuner_id: str, directory):
    """A worker of a distributed search: trials from the chief's oracle, each a child of the
    parent the chief opened, trained as populations; the parent stays open for the chief."""
    try:
        parent = distributed.wait_for_parent(tracker, search.name, tuner_id)
    except TimeoutError as exc:
        raise SearchFailed(str(exc)) from None
    own = distributed.worker_directory(directory, search.name, tuner_id)
    joined = f"search '{search.name}' (parent run {parent.info.run_id})"
    print(f"alphalab: worker {tuner_id} joins {joined}", flush=True)
    try:
        trainer = _search(run, search, own, parent.info.run_id, None)
    except (ConfigError, KeyboardInterrupt):
        raise
    except BaseException as exc:
        raise SearchFailed(f"worker {tuner_id} of search '{search.name}' failed: {exc}") from exc
    if trainer.failed:
        raise SearchFailed(
            f"worker {tuner_id}: {len(trainer.failed)} trial(s) raised: {trainer.failed[0]}"
        )
    print(f"alphalab: worker {tuner_id} done: {trainer.new} trial(s) of '{search.name}'")
    return math.inf  # the search's result is the chief's
