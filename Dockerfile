# The serving image: ONNX Runtime, numpy and the web stack in a venv, the exported model, no
# compiler, no pip, no network at build time. `make image` prepares the context (the pinned
# wheels of the `serve` dependency group and a wheel of this project) and passes the build args.
#
# The base is pinned by digest in a literal FROM, which Dependabot's docker ecosystem bumps (it
# cannot follow a FROM through an ARG). Where there is no registry of images, `make image` swaps
# in a local Debian base with podman's `--from`, which replaces this first FROM (`make
# base-image`; shared/ENVIRONMENT.md). Both stages derive from `base`: the venv links to its
# interpreter.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS base

FROM base AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_NO_INDEX=1
COPY build/requirements-serve.txt build/wheelhouse/ /wheels/
# Hashes from uv.lock are checked, so a wheel swapped in the context fails the build. The
# project's wheel has no hash in the lock and its dependencies are the training stack: --no-deps.
# pip and setuptools leave the venv afterwards: nothing installs at run time.
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-compile --find-links /wheels --require-hashes \
        -r /wheels/requirements-serve.txt \
    && /opt/venv/bin/pip install --no-cache-dir --no-compile --find-links /wheels --no-deps \
        /wheels/modelgate-*.whl \
    && /opt/venv/bin/pip uninstall --yes pip setuptools
# Then two things for the final image:
# - what the server never loads goes, about 60 MB of the 200 MB venv (image <= 300 MB, issue 5):
#   numpy's test suites; ONNX Runtime's offline tooling (quantization, transformer optimisers,
#   model converters); and its C API library, which only native add-ons such as onnxruntime-genai
#   load: the Python binding links the runtime statically (ldd shows no libonnxruntime). The
#   image test's predictions prove the trimmed venv still scores.
# - bytecode that is never checked against its source (PEP 552): a reproducible build stamps
#   every file with one time (`--timestamp`), which makes mtime-checked .pyc files stale, and the
#   read-only root takes no new ones, so every start would compile the whole stack again (~1 s).
WORKDIR /opt/venv/lib/python3.11/site-packages
RUN rm -r numpy/tests numpy/*/tests numpy/f2py numpy/distutils \
        onnxruntime/quantization onnxruntime/tools onnxruntime/transformers \
        onnxruntime/capi/libonnxruntime.so.* \
    && /opt/venv/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash .

FROM base
# A fixed uid, so a read-only root filesystem and volume permissions can be planned for it.
ARG APP_UID=10001
RUN useradd --no-log-init --uid "${APP_UID}" --user-group --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin modelgate
COPY --from=builder /opt/venv /opt/venv
COPY models/model.onnx /app/model/model.onnx
# Nothing is written at run time (the .pyc files come with the venv), so a read-only root
# filesystem (`--read-only`, readOnlyRootFilesystem) works.
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MODELGATE_MODEL=/app/model/model.onnx \
    MODELGATE_HOST=0.0.0.0 \
    MODELGATE_PORT=8080
WORKDIR /app
USER ${APP_UID}:${APP_UID}
EXPOSE 8080
# urllib raises on a 503, so the check fails while the model is not loaded or the server drains.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/v2/health/ready' % os.environ.get('MODELGATE_PORT', '8080'), timeout=2)"]
STOPSIGNAL SIGTERM

# Build metadata last, so a new commit or model reuses every layer above.
ARG SOURCE_URL=unknown
ARG REVISION=unknown
ARG MODEL_NAME=unknown
ARG MODEL_VERSION=unknown
ARG CREATED=1970-01-01T00:00:00Z
# buildah (podman) keys its layer cache on LABEL and ENV lines as written, not as expanded, so
# an image of a new commit but unchanged model and wheels reused the last build's labels and
# revision. A RUN's cache key carries the build args' values: this one makes them count.
RUN : "${SOURCE_URL} ${REVISION} ${MODEL_NAME} ${MODEL_VERSION} ${CREATED}"
ENV MODELGATE_GIT_REVISION=${REVISION}
LABEL org.opencontainers.image.title="modelgate-serve" \
      org.opencontainers.image.description="ONNX Runtime server for the gated model: Open Inference Protocol v2 and /predict" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${MODEL_VERSION}" \
      org.opencontainers.image.created="${CREATED}" \
      io.modelgate.model.name="${MODEL_NAME}" \
      io.modelgate.model.version="${MODEL_VERSION}"
CMD ["python", "-m", "modelgate.serve"]
