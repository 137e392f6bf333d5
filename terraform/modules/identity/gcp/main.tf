# The service account every workload runs as (GKE nodes and pods, Cloud Run, the Cassandra VMs), with access
# to the lake, Kafka, images, logs and metrics; secrets are granted one by one by modules/secrets/gcp.
resource "google_service_account" "this" {
  project      = var.project
  account_id   = "${var.name}-app"
  display_name = "MarketPulse workloads"
}

resource "google_project_iam_member" "this" {
  for_each = toset([
    "roles/storage.objectAdmin",
    "roles/managedkafka.client",
    "roles/artifactregistry.reader",
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/container.defaultNodeServiceAccount",
  ])
  project = var.project
  role    = each.value
  member  = "serviceAccount:${google_service_account.this.email}"
}

# HMAC key: the app reaches GCS through its S3-compatible XML API with boto3 and s3fs.
resource "google_storage_hmac_key" "this" {
  project               = var.project
  service_account_email = google_service_account.this.email
}

# Managed Kafka's SASL/PLAIN password is the service account's key (docs: authentication-kafka); the key is
# stored in Secret Manager by the env root, never in a file.
resource "google_service_account_key" "this" {
  service_account_id = google_service_account.this.name
}
