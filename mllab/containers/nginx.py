"""The kit's offline nginx image (``mllab/nginx:bookworm``): the load balancer in front of the
server's replicas, with docker-compose in lab 07 and on Docker Swarm in lab 08.

Images cannot be pulled here, so ``docker/nginx/build-nginx-base`` makes it with mmdebstrap
from Debian's nginx and imports it; the configuration is not baked in (compose mounts it, the
swarm stack gives it as a config).
"""

from __future__ import annotations

import subprocess

from mllab.containers.base import has_image
from mllab.core.errors import BuildError
from mllab.core.paths import DOCKER

NGINX_IMAGE = "mllab/nginx:bookworm"
NGINX_BUILD_SCRIPT = DOCKER / "nginx" / "build-nginx-base"


def build_nginx(tag: str = NGINX_IMAGE, rebuild: bool = False) -> str:
    """The offline nginx image (``docker/nginx/build-nginx-base``: mmdebstrap + Debian's nginx),
    built once and then reused; a clear :class:`BuildError` with the script's words if it fails."""
    if has_image(tag) and not rebuild:
        return tag
    done = subprocess.run(
        [str(NGINX_BUILD_SCRIPT), tag], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BuildError(f"building the nginx image failed:\n{done.stderr.strip()}")
    return tag
