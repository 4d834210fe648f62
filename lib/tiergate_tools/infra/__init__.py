"""Deployment checks: do serverless.yml and vercel.json serve the app's routes as they must?"""
