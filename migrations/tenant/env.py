from app.db.alembic_env import run

run("tenant")
