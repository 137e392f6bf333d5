# The lake's buckets on an S3-compatible server reached through the MinIO admin/S3 API (the local stack's MinIO).
resource "minio_s3_bucket" "this" {
  for_each = var.buckets

  bucket        = each.value
  acl           = "private"
  force_destroy = var.force_destroy
}
