module github.com/tsdb-course/docs

go 1.26.7
