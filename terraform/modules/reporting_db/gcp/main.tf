# Cloud SQL for PostgreSQL with a private IP only (private services access of the platform's VPC),
# encrypted connections only, deletion protection both in Terraform and in the API.
resource "google_sql_database_instance" "this" {
  project             = var.project
  name                = "${var.name}-reporting"
  region              = var.region
  database_version    = "POSTGRES_${var.engine_version}"
  deletion_protection = true

  settings {
    tier                        = var.tier
    edition                     = "ENTERPRISE"
    availability_type           = var.high_availability ? "REGIONAL" : "ZONAL"
    deletion_protection_enabled = true
    user_labels                 = var.labels

    ip_configuration {
      ipv4_enabled    = false
      private_network = var.network_id
      ssl_mode        = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
    }
  }
}

resource "google_sql_user" "this" {
  project  = var.project
  instance = google_sql_database_instance.this.name
  name     = var.admin_user
  password = var.admin_password
}
