"""The deployable Stripe webhook, its own function: Vercel serves `app`, Lambda `handler`."""

from tiergate.web.lambda_handler import lambda_handler
from tiergate.web.webhooks import create_webhook_app

app = create_webhook_app()
handler = lambda_handler(app)
