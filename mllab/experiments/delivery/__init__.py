"""Lab 08, delivery: tags and digests in a registry, the CI/CD pipeline (Build → Test → Tag →
Push → Deploy), and a deployment on Docker Swarm (rolling update, rollback, recovery, scale).

All of lab 08's code is here, one module per concern:

- the registry: ``registry`` (the kit's docker-registry process), ``registry_api`` (what a
  registry holds), ``distribution`` (push, pull back by digest, a tag that moves), ``digests``
  (C15: the same inputs built twice, the digests the registry answers);
- the pipeline: ``versions`` (the build's version and OCI labels), ``pipeline`` (the run),
  ``pipeline_checks`` (what each stage compares), ``pipeline_steps`` (what each stage does);
- the deployment: ``swarm_node`` (the swarm, made and left by the kit only when it is the
  kit's), ``swarm`` (the stack ``mllab08``), ``rollout`` (updates under load), ``scale`` (a
  killed replica, 1/2/4 replicas), ``k8s_manifests`` (the same deployment for Kubernetes,
  validated offline);
- ``cleanup``: what outlives the lab's cells, undone.
"""
