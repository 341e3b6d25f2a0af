module example.com/cgodep

go 1.22

require example.com/cdep v0.0.0

replace example.com/cdep => ./cdep
