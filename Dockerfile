# sdds in a small runtime image:  docker build -t sdds .
#   docker run --rm -v "$PWD/warehouse:/data/warehouse" -e SDDS_SOURCE=s3://my-sdds-bucket sdds sync
# Build stage: the release binary, with the dependencies cached in their own layer.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin sdds && strip target/release/sdds

# Runtime stage: the binary, CA certificates for S3, and an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/sdds /usr/local/bin/sdds
RUN useradd --system --uid 10001 --home-dir /data sdds && mkdir -p /data && chown sdds /data
USER sdds
WORKDIR /data
ENV SDDS_WAREHOUSE=/data/warehouse
ENTRYPOINT ["sdds"]
CMD ["--help"]
