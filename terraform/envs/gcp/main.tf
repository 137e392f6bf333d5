# GCP: Managed Service for Apache Kafka, Dataproc, Memorystore, Cassandra on Compute Engine, GCS,
# Cloud Composer and Cloud Run in one VPC.
provider "google" {
  project = var.project
  region  = var.region
}

module "catalog" {
  source        = "../../modules/catalog"
  bucket_prefix = var.bucket_prefix
}

module "network" {
  source  = "../../modules/network/gcp"
  name    = var.name
  project = var.project
  region  = var.region
}

module "identity" {
  source  = "../../modules/identity/gcp"
  name    = var.name
  project = var.project
}

module "object_store" {
  source   = "../../modules/object_store/gcp"
  project  = var.project
  location = var.region
  buckets  = module.catalog.buckets
  labels   = var.labels
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
}

module "history_store" {
  source                = "../../modules/history_store/gcp"
  name                  = var.name
  project               = var.project
  zones                 = ["${var.region}-b", "${var.region}-c", "${var.region}-d"]
  subnetwork_id         = module.network.subnetwork_id
  service_account_email = module.identity.email
  labels                = var.labels
}

module "spark_runtime" {
  source                = "../../modules/spark_runtime/gcp"
  name                  = var.name
  project               = var.project
  region                = var.region
  subnetwork_id         = module.network.subnetwork_id
  service_account_email = module.identity.email
  staging_bucket        = module.object_store.bucket_names["checkpoints"]
  labels                = var.labels
}

module "airflow" {
  source                = "../../modules/airflow/gcp"
  name                  = var.name
  project               = var.project
  region                = var.region
  network_id            = module.network.network_id
  subnetwork_id         = module.network.subnetwork_id
  service_account_email = module.identity.email
  labels                = var.labels
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
  # Secrets reach Cloud Run through Secret Manager in a real deployment; here only the plain settings.
  app_env = local.app_env
  labels  = var.labels
}

locals {
  app_env = {
    MARKETPULSE_ENVIRONMENT               = "gcp"
    MARKETPULSE_KAFKA__BOOTSTRAP_SERVERS  = module.streaming_bus.bootstrap_servers
    MARKETPULSE_KAFKA__DEFAULT_PARTITIONS = tostring(var.kafka_partitions)
    # GCS's S3-compatible XML API, with the service account's HMAC key.
    MARKETPULSE_S3__ENDPOINT_URL    = "https://storage.googleapis.com"
    MARKETPULSE_S3__REGION          = var.region
    MARKETPULSE_S3__ACCESS_KEY      = module.identity.hmac_access_id
    MARKETPULSE_S3__BUCKET_PREFIX   = module.catalog.bucket_prefix
    MARKETPULSE_CASSANDRA__HOSTS    = jsonencode(module.history_store.hosts)
    MARKETPULSE_CASSANDRA__KEYSPACE = "marketpulse"
    MARKETPULSE_REDIS__URL          = module.online_store.url
  }
}
