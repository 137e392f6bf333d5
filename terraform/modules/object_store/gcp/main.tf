# The lake's buckets in Cloud Storage: uniform access, versioned, raw data ages out.
resource "google_storage_bucket" "this" {
  for_each                    = var.buckets
  project                     = var.project
  name                        = each.value
  location                    = var.location
  force_destroy               = var.force_destroy
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = merge(var.labels, { area = each.key })

  versioning {
    enabled = true
  }

  dynamic "lifecycle_rule" {
    for_each = each.key == "raw" ? [var.raw_retention_days] : []
    content {
      action {
        type = "Delete"
      }
      condition {
        age = lifecycle_rule.value
      }
    }
  }
}
