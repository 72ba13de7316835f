"""Lab 07, delivery: tags and digests in a registry, the CI/CD pipeline (Build → Test → Tag →
Push → Deploy), and a deployment on Docker Swarm (rolling update, rollback, recovery, scale)."""
