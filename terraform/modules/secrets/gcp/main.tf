# Secret Manager: one secret per MARKETPULSE_* value, readable by the workloads' service account only.
locals {
  names = nonsensitive(toset(keys(var.values)))
}

resource "google_secret_manager_secret" "this" {
  for_each  = local.names
  project   = var.project
  secret_id = "${var.name}-${lower(replace(each.key, "_", "-"))}"
  labels    = var.labels

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "this" {
  for_each    = local.names
  secret      = google_secret_manager_secret.this[each.key].id
  secret_data = var.values[each.key]
}

resource "google_secret_manager_secret_iam_member" "this" {
  for_each  = local.names
  project   = var.project
  secret_id = google_secret_manager_secret.this[each.key].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${var.reader_email}"
}
