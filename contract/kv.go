package contract

// KVStream is the name of the stream that holds a KV bucket (JetStream
// keeps bucket B in stream KV_B).
func KVStream(bucket string) string { return "KV_" + bucket }

// KVSubject is the subject a KV bucket stores key under; with key ""
// it is the prefix of every key's subject ("$KV.<bucket>.").
func KVSubject(bucket, key string) string { return "$KV." + bucket + "." + key }
