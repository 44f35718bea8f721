# syntax=docker/dockerfile:1
# The auth-service alone: docker build -f deploy/auth-service.Dockerfile -t session-store/auth-service .
# Each service builds, ships and scales on its own.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
# Manifests first, with empty sources: the dependency layer is rebuilt only when
# Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
COPY crates/session-core/Cargo.toml crates/session-core/Cargo.toml
COPY services/auth-service/Cargo.toml services/auth-service/Cargo.toml
COPY services/resource-service/Cargo.toml services/resource-service/Cargo.toml
RUN for d in crates/session-core services/auth-service services/resource-service; do \
        mkdir -p $d/src && touch $d/src/lib.rs && echo 'fn main() {}' > $d/src/main.rs; \
    done \
    && cargo build --release --locked -p auth-service \
    && rm -rf target/release/.fingerprint/session-core-* \
              target/release/.fingerprint/auth-service-* \
              target/release/.fingerprint/resource-service-*
COPY crates crates
COPY services services
RUN cargo build --release --locked -p auth-service \
    && cp target/release/auth-service /usr/local/bin/auth-service

# Small runtime image with glibc and CA certificates, running as an unprivileged user.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/auth-service /usr/local/bin/auth-service
ENV APP__SERVER__HOST=0.0.0.0 \
    APP__SERVER__PORT=8080
EXPOSE 8080
USER nonroot:nonroot
# No shell or curl in the image: the binary probes its own /health/live.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/auth-service", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/auth-service"]
