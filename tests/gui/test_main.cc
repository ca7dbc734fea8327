// GoogleTest main for the dashboard suites: one QCoreApplication so sockets
// and timers have an event loop (tests spin it with QTest::qWaitFor).
#include <gtest/gtest.h>

#include <QCoreApplication>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  QCoreApplication app(argc, argv);
  return RUN_ALL_TESTS();
}
