"""tiergate's tools: the local Upstash REST server, the deployment check and the cost report.

They ship with the `tiergate` distribution (the `tiergate local-redis`, `tiergate infra
check` and `tiergate costs` commands) but live outside the `tiergate` package, so the
deployed function (the Lambda package, which copies `tiergate/` alone; on Vercel,
.vercelignore leaves them out of the upload) carries none of their code.
"""
