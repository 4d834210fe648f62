"""The deployable Stripe webhook, its own function: Vercel serves `app`, Lambda `handler`."""

from mangum import Mangum

from tiergate.web.webhooks import create_webhook_app

app = create_webhook_app()
handler = Mangum(app, lifespan="off")
