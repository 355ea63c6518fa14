"""Run from a subprocess with PREFECT_API_URL set: trigger a deployment, wait, report as JSON.

python prefect_client.py wait-deployment NAME            -> {"schedules": [...]}
python prefect_client.py run NAME '{"param": ...}'        -> {"state": ..., "message": ..., "artifacts": [...]}
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def wait_deployment(name: str, timeout: float = 120) -> dict:
    from prefect.client.orchestration import get_client

    deadline = time.time() + timeout
    async with get_client() as client:
        while True:
            try:
                deployment = await client.read_deployment_by_name(name)
                return {
                    "schedules": [s.schedule.cron for s in deployment.schedules],
                    "concurrency_limit": getattr(deployment, "global_concurrency_limit", None) is not None
                    or bool(getattr(deployment, "concurrency_limit", None)),
                    "work_pool": deployment.work_pool_name,
                }
            except Exception:
                if time.time() > deadline:
                    raise
                await asyncio.sleep(0.5)


async def run(name: str, parameters: dict, timeout: float = 300) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.deployments import run_deployment

    flow_run = await run_deployment(name, parameters=parameters, timeout=timeout)
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id]))
        )
    return {
        "state": flow_run.state.type.value,
        "message": flow_run.state.message,
        "artifacts": sorted({a.key: a.type for a in artifacts}.items()),
        "report": next((a.data for a in artifacts if a.key == "txpipe-run-report"), None),
    }


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "wait-deployment":
        result = asyncio.run(wait_deployment(sys.argv[2]))
    else:
        result = asyncio.run(run(sys.argv[2], json.loads(sys.argv[3])))
    print(json.dumps(result, default=str))
