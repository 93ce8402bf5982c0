"""The abalone workflow as a Dagster job: one op per step, the gate's branches as optional outputs.

    pip install 'openclarify[dagster]'
    dagster job execute -f examples/abalone/dagster_job.py          # runs it (needs DAGSTER_HOME for history)
    dagster dev -f examples/abalone/dagster_job.py                  # Dagster's UI on http://127.0.0.1:3000

Run folders go where `openclarify workflow run` puts them (examples/abalone/workflow_runs/abalone/), and
steps whose inputs did not change since a run of either kind are reused.
"""

from pathlib import Path

from openclarify.workflow import dagster_job, load_workflow

abalone = dagster_job(load_workflow(Path(__file__).with_name("workflow.yaml")))
