"""tiergate's development tools: the local Upstash REST server and the deployment check.

They ship with the `tiergate` distribution (the `tiergate local-redis` and `tiergate infra
check` commands) but live outside the `tiergate` package, so the deployed function (the
Lambda package, which copies `tiergate/` alone) carries none of their code.
"""
