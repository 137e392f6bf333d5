# Azure: Event Hubs (Kafka endpoint), Synapse Spark, Azure Cache for Redis, Managed Instance for Apache
# Cassandra, ADLS Gen2, Airflow and the services on Container Apps, in one VNet.
provider "azurerm" {
  subscription_id = var.subscription_id
  features {}
}

module "catalog" {
  source        = "../../modules/catalog"
  bucket_prefix = var.bucket_prefix
}

module "network" {
  source   = "../../modules/network/azure"
  name     = var.name
  location = var.location
  tags     = var.tags
}

module "object_store" {
  source              = "../../modules/object_store/azure"
  account_name        = var.storage_account_name
  buckets             = module.catalog.buckets
  resource_group_name = module.network.resource_group_name
  location            = var.location
  tags                = var.tags
}

module "streaming_bus" {
  source              = "../../modules/streaming_bus/azure"
  name                = var.name
  resource_group_name = module.network.resource_group_name
  location            = var.location
  topics              = module.catalog.topics
  partitions          = var.kafka_partitions
  tags                = var.tags
}

module "identity" {
  source                = "../../modules/identity/azure"
  name                  = var.name
  resource_group_name   = module.network.resource_group_name
  location              = var.location
  storage_account_id    = module.object_store.storage_account_id
  eventhub_namespace_id = module.streaming_bus.namespace_id
  tags                  = var.tags
}

module "online_store" {
  source              = "../../modules/online_store/azure"
  name                = var.name
  resource_group_name = module.network.resource_group_name
  location            = var.location
  tags                = var.tags
}

module "history_store" {
  source                = "../../modules/history_store/azure"
  name                  = var.name
  resource_group_name   = module.network.resource_group_name
  location              = var.location
  vnet_id               = module.network.vnet_id
  subnet_id             = module.network.cassandra_subnet_id
  cosmosdb_principal_id = var.cosmosdb_principal_id
  admin_password        = var.cassandra_admin_password
  tags                  = var.tags
}

module "spark_runtime" {
  source              = "../../modules/spark_runtime/azure"
  name                = var.name
  resource_group_name = module.network.resource_group_name
  location            = var.location
  filesystem_id       = module.object_store.filesystem_ids["checkpoints"]
  tags                = var.tags
}

module "services" {
  source              = "../../modules/services/azure"
  name                = var.name
  resource_group_name = module.network.resource_group_name
  location            = var.location
  subnet_id           = module.network.apps_subnet_id
  identity_id         = module.identity.id
  image               = var.image
  app_env             = local.app_env
  tags                = var.tags
}

module "airflow" {
  source                       = "../../modules/airflow/azure"
  name                         = var.name
  resource_group_name          = module.network.resource_group_name
  container_app_environment_id = module.services.environment_id
  identity_id                  = module.identity.id
  image                        = var.image
  app_env                      = local.app_env
  tags                         = var.tags
}

locals {
  # Object storage: ADLS Gen2 has no S3 API, so no MARKETPULSE_S3__* here (docs/decisions/0004-terraform.md).
  app_env = {
    MARKETPULSE_ENVIRONMENT               = "azure"
    MARKETPULSE_KAFKA__BOOTSTRAP_SERVERS  = module.streaming_bus.bootstrap_servers
    MARKETPULSE_KAFKA__DEFAULT_PARTITIONS = tostring(var.kafka_partitions)
    MARKETPULSE_S3__BUCKET_PREFIX         = module.catalog.bucket_prefix
    MARKETPULSE_CASSANDRA__HOSTS          = jsonencode(module.history_store.hosts)
    MARKETPULSE_CASSANDRA__KEYSPACE       = "marketpulse"
  }
}
