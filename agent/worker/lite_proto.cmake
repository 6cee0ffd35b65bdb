# cmake -DIN=fourtuple.proto -DOUT=lite/proto/fourtuple.proto -P lite_proto.cmake
# The same proto file for protobuf's lite runtime (agent-worker).
file(READ ${IN} text)
string(REPLACE "package fourtuple.v1;" "package fourtuple.v1;\noption optimize_for = LITE_RUNTIME;" text "${text}")
file(WRITE ${OUT} "${text}")
