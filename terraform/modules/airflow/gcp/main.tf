# Cloud Composer 3 (managed Airflow); DAGs go to the environment's bucket under dags/.
resource "google_composer_environment" "this" {
  project = var.project
  region  = var.region
  name    = var.name
  labels  = var.labels

  config {
    software_config {
      image_version = var.image_version
      pypi_packages = {
        marketpulse = var.marketpulse_requirement
      }
    }
    node_config {
      service_account = var.service_account_email
      network         = var.network_id
      subnetwork      = var.subnetwork_id
    }
    environment_size = "ENVIRONMENT_SIZE_SMALL"
  }
}
