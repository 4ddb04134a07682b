module github.com/certrotator/certrotator

go 1.26
