# The service account every workload runs as, with access to the lake, Kafka and Dataproc.
resource "google_service_account" "this" {
  project      = var.project
  account_id   = "${var.name}-app"
  display_name = "MarketPulse workloads"
}

resource "google_project_iam_member" "this" {
  for_each = toset([
    "roles/storage.objectAdmin",
    "roles/managedkafka.client",
    "roles/dataproc.worker",
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/composer.worker",
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
