output "bucket_names" {
  description = "Lake area => bucket name."
  value       = { for area, b in aws_s3_bucket.this : area => b.bucket }
}

output "bucket_arns" {
  description = "ARNs of the buckets, for IAM policies."
  value       = [for b in aws_s3_bucket.this : b.arn]
}
