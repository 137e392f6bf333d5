# GCP: Managed Service for Apache Kafka (SASL/PLAIN), GKE (Spark 4.1 on Kubernetes + Airflow 3 from the
# official chart), Memorystore, Cassandra 5 on Compute Engine, GCS, Cloud SQL for PostgreSQL (private IP),
# Secret Manager and Cloud Run, in one VPC. docs/decisions/0010-cloud-deployment.md says why each.
provider "google" {
  project = var.project
  region  = var.region
}

data "google_client_config" "this" {}

provider "kubernetes" {
  host                   = module.spark_runtime.endpoint
  cluster_ca_certificate = module.spark_runtime.ca_certificate
  token                  = data.google_client_config.this.access_token
}

provider "helm" {
  kubernetes = {
    host                   = module.spark_runtime.endpoint
    cluster_ca_certificate = module.spark_runtime.ca_certificate
    token                  = data.google_client_config.this.access_token
  }
}

# Roles and databases on Cloud SQL (needs reach to its private IP: manage_db_roles).
provider "postgresql" {
  host      = module.reporting_db.host
  port      = module.reporting_db.port
  username  = module.reporting_db.admin_user
  password  = module.passwords.values["postgres_admin"]
  sslmode   = "require"
  superuser = false
}

# A fresh project has these APIs off; every module waits for them (first apply would fail otherwise).
resource "google_project_service" "this" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "compute.googleapis.com",
    "container.googleapis.com",
    "iam.googleapis.com",
    "managedkafka.googleapis.com",
    "redis.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
  ])
  project            = var.project
  service            = each.value
  disable_on_destroy = false
}

module "catalog" {
  source        = "../../modules/catalog"
  bucket_prefix = var.bucket_prefix
}

module "passwords" {
  source = "../../modules/secrets/generate"
  names  = ["postgres_admin", "postgres_app", "powerbi", "airflow_admin", "cassandra_app"]
}

module "network" {
  source     = "../../modules/network/gcp"
  name       = var.name
  project    = var.project
  region     = var.region
  depends_on = [google_project_service.this]
}

module "identity" {
  source     = "../../modules/identity/gcp"
  name       = var.name
  project    = var.project
  depends_on = [google_project_service.this]
}

module "object_store" {
  source     = "../../modules/object_store/gcp"
  project    = var.project
  location   = var.region
  buckets    = module.catalog.buckets
  labels     = var.labels
  depends_on = [google_project_service.this]
}

module "streaming_bus" {
  source        = "../../modules/streaming_bus/gcp"
  name          = var.name
  project       = var.project
  region        = var.region
  subnetwork_id = module.network.subnetwork_id
  topics        = module.catalog.topics
  partitions    = var.kafka_partitions
  labels        = var.labels
}

module "online_store" {
  source     = "../../modules/online_store/gcp"
  name       = var.name
  project    = var.project
  region     = var.region
  network_id = module.network.network_id
  labels     = var.labels
  depends_on = [module.network]
}

module "history_store" {
  source                = "../../modules/history_store/gcp"
  name                  = var.name
  project               = var.project
  region                = var.region
  zones                 = var.cassandra_zones
  subnetwork_id         = module.network.subnetwork_id
  service_account_email = module.identity.email
  app_password          = module.passwords.values["cassandra_app"]
  labels                = var.labels
}

module "reporting_db" {
  source         = "../../modules/reporting_db/gcp"
  name           = var.name
  project        = var.project
  region         = var.region
  network_id     = module.network.network_id
  admin_password = module.passwords.values["postgres_admin"]
  labels         = var.labels
  depends_on     = [module.network]
}

module "db_roles" {
  source           = "../../modules/reporting_db/roles"
  count            = var.manage_db_roles ? 1 : 0
  app_password     = module.passwords.values["postgres_app"]
  powerbi_password = module.passwords.values["powerbi"]
}

module "secrets" {
  source       = "../../modules/secrets/gcp"
  name         = var.name
  project      = var.project
  reader_email = module.identity.email
  # The Memorystore CA travels as a secret too: Cloud Run mounts it as a file.
  values     = merge(local.app_secrets, { MARKETPULSE_REDIS_CA = module.online_store.server_ca })
  labels     = var.labels
  depends_on = [google_project_service.this]
}

module "spark_runtime" {
  source                = "../../modules/spark_runtime/gcp"
  name                  = var.name
  project               = var.project
  region                = var.region
  network_id            = module.network.network_id
  subnetwork_id         = module.network.subnetwork_id
  service_account_email = module.identity.email
  pods_range_name       = module.network.secondary_ranges["pods"]
  services_range_name   = module.network.secondary_ranges["services"]
  labels                = var.labels
}

module "workloads" {
  source                      = "../../modules/spark_runtime/kubernetes"
  spark_image                 = var.spark_image
  app_image                   = var.image
  airflow_image               = var.airflow_image
  app_env                     = local.app_env
  app_secrets                 = local.app_secrets
  db_host                     = module.reporting_db.host
  db_password                 = module.passwords.values["postgres_app"]
  service_account_annotations = { "iam.gke.io/gcp-service-account" = module.identity.email }
  # The Redis URL names /secrets/redis-ca/ca.pem: the pods get the file like Cloud Run does.
  mounted_files = { "redis-ca" = { mount_path = "/secrets/redis-ca", files = { "ca.pem" = module.online_store.server_ca } } }
  depends_on    = [module.db_roles]
}

module "services" {
  source                = "../../modules/services/gcp"
  name                  = var.name
  project               = var.project
  region                = var.region
  network_id            = module.network.network_id
  subnetwork_id         = module.network.subnetwork_id
  service_account_email = module.identity.email
  image                 = var.image
  app_env               = local.app_env
  secret_env            = { for name, id in module.secrets.secret_ids : name => id if name != "MARKETPULSE_REDIS_CA" }
  ca_secret_id          = module.secrets.secret_ids["MARKETPULSE_REDIS_CA"]
  labels                = var.labels
  # The schema-migration job (module.workloads) has completed before any service starts.
  depends_on = [module.workloads]
}

locals {
  app_env = {
    MARKETPULSE_ENVIRONMENT               = "gcp"
    MARKETPULSE_KAFKA__BOOTSTRAP_SERVERS  = module.streaming_bus.bootstrap_servers
    MARKETPULSE_KAFKA__DEFAULT_PARTITIONS = tostring(var.kafka_partitions)
    # Managed Kafka: SASL/PLAIN over TLS, the service account's e-mail and its base64 key (decision 0010).
    MARKETPULSE_KAFKA__SECURITY_PROTOCOL = "SASL_SSL"
    MARKETPULSE_KAFKA__SASL_MECHANISM    = "PLAIN"
    MARKETPULSE_KAFKA__SASL_USERNAME     = module.identity.email
    # Memorystore's per-instance CA, mounted from Secret Manager (MARKETPULSE_REDIS_CA) in every workload.
    MARKETPULSE_REDIS__SSL_CA_LOCATION = "/secrets/redis-ca/ca.pem"
    # GCS's S3-compatible XML API, with the service account's HMAC key.
    MARKETPULSE_S3__ENDPOINT_URL             = "https://storage.googleapis.com"
    MARKETPULSE_S3__REGION                   = var.region
    MARKETPULSE_S3__ACCESS_KEY               = module.identity.hmac_access_id
    MARKETPULSE_S3__CHECKSUM_WHEN_REQUIRED   = "true"
    MARKETPULSE_S3__BUCKET_PREFIX            = module.catalog.bucket_prefix
    MARKETPULSE_CASSANDRA__HOSTS             = jsonencode(module.history_store.hosts)
    MARKETPULSE_CASSANDRA__KEYSPACE          = "marketpulse"
    MARKETPULSE_CASSANDRA__AUTH              = "password"
    MARKETPULSE_CASSANDRA__USERNAME          = "marketpulse"
    MARKETPULSE_CASSANDRA__WRITE_CONSISTENCY = "LOCAL_QUORUM"
    MARKETPULSE_POSTGRES__HOST               = module.reporting_db.host
    MARKETPULSE_POSTGRES__PORT               = tostring(module.reporting_db.port)
    MARKETPULSE_POSTGRES__USER               = "marketpulse"
    MARKETPULSE_POSTGRES__DATABASE           = "marketpulse"
    MARKETPULSE_SPARK__MASTER                = module.workloads.spark_master
    MARKETPULSE_STREAM__CHECKPOINT_ROOT      = "s3a://${module.object_store.bucket_names["checkpoints"]}/streams"
  }
  app_secrets = {
    MARKETPULSE_S3__SECRET_KEY          = module.identity.hmac_secret
    MARKETPULSE_POSTGRES__PASSWORD      = module.passwords.values["postgres_app"]
    MARKETPULSE_AIRFLOW__ADMIN_PASSWORD = module.passwords.values["airflow_admin"]
    MARKETPULSE_REDIS__URL              = module.online_store.url
    MARKETPULSE_KAFKA__SASL_PASSWORD    = module.identity.kafka_password
    MARKETPULSE_CASSANDRA__PASSWORD     = module.passwords.values["cassandra_app"]
  }
  platform_settings = {
    cassandra = { tls = false, note = "no client TLS on the GCE nodes yet (VPC-only, firewall to the subnet)" }
    postgres  = { sslmode = "require", powerbi_user = "powerbi" }
  }
}
