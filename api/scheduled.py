"""The scheduled runs (meter push, alert delivery), their own function: Vercel's cron calls
`app` (GET /internal/scheduled), EventBridge invokes `handler` on Lambda."""

from tiergate.schedule.lambda_handler import scheduled_handler
from tiergate.web.scheduled import create_scheduled_app

app = create_scheduled_app()
handler = scheduled_handler(app.state.tiergate_runner)
