# Lab 03, claim C22: one small app (app.py needs onnxruntime and numpy) on each base. The same
# file for every base: the `deps` stage installs, with pip run from the wheel python3-venv
# ships, only PACKAGES (what the app needs and the base lacks, measured by the kit), plus the
# shared libraries their extension modules load (at their /usr paths: a /lib folder copied
# onto a merged-/usr base would replace its /lib link); the final stage copies that tree onto
# the base. Built by mllab.experiments.architecture.base_tradeoff.
ARG BASE_IMAGE
ARG BUILDER_IMAGE
FROM ${BUILDER_IMAGE} AS deps
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG PACKAGES=""
COPY wheels/ /tmp/wheels/
# /opt/add/app/by-hand.txt keeps the tree never empty (the legacy builder fails on an empty
# COPY layer) and says what was added.
RUN site=/opt/add/usr/lib/python3/dist-packages \
 && mkdir -p "$site" /opt/add/app \
 && echo "${PACKAGES:-nothing}" > /opt/add/app/by-hand.txt \
 && if [ -n "$PACKAGES" ]; then \
      pip=$(echo /usr/share/python-wheels/pip-*.whl) \
   && python3 "$pip/pip" install --no-index --no-cache-dir --disable-pip-version-check \
        --no-compile --target "$site" --find-links /tmp/wheels $PACKAGES \
   && find "$site" -name '*.so*' -exec ldd {} + \
        | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u \
        | while read -r lib; do \
            kept="$(readlink -f "$(dirname "$lib")")/$(basename "$lib")"; \
            cp -a --parents "$kept" /opt/add && cp -L --parents "$(readlink -f "$lib")" /opt/add; \
          done; \
    fi

FROM ${BASE_IMAGE}
COPY --from=deps /opt/add/ /
COPY app.py /app/app.py
CMD ["python3", "/app/app.py"]
