/// The OpenAPI document of the `/api/v1` API, served at `/api/v1/openapi.json`.
/// Kept by hand next to the routes (APIRoutes.swift); `OpenAPIDocumentTests` checks that
/// every route the server registers is described here, and schemathesis fuzzes the
/// server against it.
enum OpenAPIDocument {
    static let text = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "dstack server API",
    "version": "1",
    "description": "The API the dstack CLI and web page use. Every route but health and this document needs `Authorization: Bearer TOKEN`: the admin token in DSTACK_HOME/admin.token, or one from `dstack users add`. Runner tokens open none of these routes."
  },
  "servers": [
    {
      "url": "/"
    }
  ],
  "security": [
    {
      "bearer": []
    }
  ],
  "paths": {
    "/api/v1/health": {
      "get": {
        "summary": "Whether this server answers, leads the reconcile loop, and reaches its database.",
        "operationId": "health",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Health"
                }
              }
            }
          }
        },
        "tags": [
          "server"
        ],
        "security": []
      }
    },
    "/api/v1/openapi.json": {
      "get": {
        "summary": "This document.",
        "operationId": "openapi",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          }
        },
        "tags": [
          "server"
        ],
        "security": []
      }
    },
    "/api/v1/me": {
      "get": {
        "summary": "The user the token belongs to.",
        "operationId": "me",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/User"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "users"
        ]
      }
    },
    "/api/v1/users": {
      "get": {
        "summary": "Every user (admin).",
        "operationId": "listUsers",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/User"
                  }
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "users"
        ]
      },
      "post": {
        "summary": "Adds a user and returns its token, the only time it is shown (admin).",
        "operationId": "addUser",
        "responses": {
          "201": {
            "description": "Created",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/NewUserReply"
                }
              }
            }
          },
          "400": {
            "description": "The request is malformed; one sentence says why.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "409": {
            "description": "The request conflicts with the state (no provider configured, a rule or max refuses it).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "413": {
            "description": "The body is larger than the route takes (1 MiB of JSON, 2 GiB of code archive).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "415": {
            "description": "The body's Content-Type is not one the route takes.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "users"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/NewUser"
              }
            }
          }
        }
      }
    },
    "/api/v1/users/{name}": {
      "delete": {
        "summary": "Removes a user; its token stops working (admin).",
        "operationId": "removeUser",
        "responses": {
          "204": {
            "description": "Removed"
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such run, user, vendor or instance.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "409": {
            "description": "The request conflicts with the state (no provider configured, a rule or max refuses it).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "users"
        ],
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ]
      }
    },
    "/api/v1/vendors": {
      "get": {
        "summary": "Every vendor's configure form with the saved values, secrets masked (admin).",
        "operationId": "listVendors",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/Vendor"
                  }
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "vendors"
        ]
      }
    },
    "/api/v1/vendors/{vendor}": {
      "get": {
        "summary": "One vendor's configure form with the saved values, secrets masked (admin).",
        "operationId": "getVendor",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Vendor"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such run, user, vendor or instance.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "vendors"
        ],
        "parameters": [
          {
            "name": "vendor",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ]
      },
      "put": {
        "summary": "Checks new settings with the cloud, saves them and makes the vendor active (admin). Fields left out keep their saved value.",
        "operationId": "configureVendor",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Vendor"
                }
              }
            }
          },
          "400": {
            "description": "The request is malformed; one sentence says why.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such run, user, vendor or instance.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The cloud failed or throttled; try again.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "413": {
            "description": "The body is larger than the route takes (1 MiB of JSON, 2 GiB of code archive).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "415": {
            "description": "The body's Content-Type is not one the route takes.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "vendors"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/ConfigureVendor"
              }
            }
          }
        },
        "parameters": [
          {
            "name": "vendor",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ]
      }
    },
    "/api/v1/autoscale": {
      "get": {
        "summary": "The rules, whether autoscaling is enabled, and the live instances of each type.",
        "operationId": "autoscaleInfo",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AutoscaleInfo"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "409": {
            "description": "The request conflicts with the state (no provider configured, a rule or max refuses it).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The cloud failed or throttled; try again.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "autoscale"
        ]
      }
    },
    "/api/v1/autoscale/rules": {
      "delete": {
        "summary": "Deletes every rule; answers once the server's pass has sent the terminations (admin).",
        "operationId": "clearRules",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ClearReply"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The cloud failed or throttled; try again.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "autoscale"
        ]
      }
    },
    "/api/v1/autoscale/rules/{instance_type}": {
      "put": {
        "summary": "Adds, changes or (max 0) removes the rule for a type, validated against the account; a lowered max answers once the server's pass has sent the terminations (admin).",
        "operationId": "allow",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AllowReply"
                }
              }
            }
          },
          "400": {
            "description": "The request is malformed; one sentence says why.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "409": {
            "description": "The request conflicts with the state (no provider configured, a rule or max refuses it).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The cloud failed or throttled; try again.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "413": {
            "description": "The body is larger than the route takes (1 MiB of JSON, 2 GiB of code archive).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "415": {
            "description": "The body's Content-Type is not one the route takes.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "autoscale"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/Allow"
              }
            }
          }
        },
        "parameters": [
          {
            "name": "instance_type",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ]
      }
    },
    "/api/v1/autoscale/disable": {
      "post": {
        "summary": "Pauses autoscaling, keeping the rules; answers once the pass has sent the terminations (admin).",
        "operationId": "disable",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ToggleReply"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The cloud failed or throttled; try again.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "autoscale"
        ]
      }
    },
    "/api/v1/autoscale/enable": {
      "post": {
        "summary": "Resumes autoscaling (admin).",
        "operationId": "enable",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ToggleReply"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "autoscale"
        ]
      }
    },
    "/api/v1/runs": {
      "get": {
        "summary": "Runs, newest first: the caller's own, or every run for an admin.",
        "operationId": "listRuns",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/Run"
                  }
                }
              }
            }
          },
          "400": {
            "description": "The request is malformed; one sentence says why.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "runs"
        ],
        "parameters": [
          {
            "name": "all",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "true",
                "false"
              ]
            },
            "description": "Every run, not only the latest 20."
          },
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "description": "At most this many, newest first (the web page's first screen); without it, every run with all=true and the latest 20 without.",
            "schema": {
              "type": "integer",
              "minimum": 1,
              "maximum": 100000
            }
          }
        ]
      },
      "post": {
        "summary": "Submits a run. Refused (409) when no allowed type can ever fit it, unless wait is true.",
        "operationId": "submitRun",
        "responses": {
          "201": {
            "description": "Created",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Run"
                }
              }
            }
          },
          "400": {
            "description": "The request is malformed; one sentence says why.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "409": {
            "description": "The request conflicts with the state (no provider configured, a rule or max refuses it, a dep's artifacts are not complete).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "428": {
            "description": "The code archive the run names is not stored: PUT it to /api/v1/code/{sha256}, then submit again.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The cloud failed or throttled; try again.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "413": {
            "description": "The body is larger than the route takes (1 MiB of JSON, 2 GiB of code archive).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "415": {
            "description": "The body's Content-Type is not one the route takes.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "A dep names another user's run.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "A dep names no run.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "runs"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/RunSubmission"
              }
            }
          }
        }
      }
    },
    "/api/v1/runs/{run}": {
      "get": {
        "summary": "One run, by ID or unique prefix.",
        "operationId": "getRun",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Run"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such run, user, vendor or instance.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "runs"
        ],
        "parameters": [
          {
            "name": "run",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ]
      }
    },
    "/api/v1/runs/{run}/logs": {
      "get": {
        "summary": "Log lines after a sequence number, waiting up to `wait` seconds (at most 30) for one.",
        "operationId": "runLogs",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/LogPage"
                }
              }
            }
          },
          "400": {
            "description": "The request is malformed; one sentence says why.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such run, user, vendor or instance.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "runs"
        ],
        "parameters": [
          {
            "name": "run",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "after",
            "in": "query",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 0,
              "maximum": 9223372036854775807
            }
          },
          {
            "name": "wait",
            "in": "query",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 0,
              "maximum": 30
            }
          }
        ]
      }
    },
    "/api/v1/runs/{run}/stop": {
      "post": {
        "summary": "Stops a run: a waiting one never starts, a running one is killed.",
        "operationId": "stopRun",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/StopReply"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such run, user, vendor or instance.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "runs"
        ],
        "parameters": [
          {
            "name": "run",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ]
      }
    },
    "/api/v1/runs/{run}/artifacts": {
      "get": {
        "summary": "A run's artifacts: the paths it declared, the manifest (paths, sizes, SHA-256) and whether it is complete, with the reason when not.",
        "operationId": "runArtifacts",
        "tags": [
          "artifacts"
        ],
        "parameters": [
          {
            "name": "run",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ArtifactList"
                }
              }
            }
          },
          "400": {
            "description": "The request is malformed; one sentence says why.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such run, or no such artifact.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/runs/{run}/artifacts/downloads": {
      "get": {
        "summary": "The files under `path` (all when absent) of a run whose artifacts are complete, each with a URL to fetch it: presigned for a bucket, else this server's `artifacts/file` route (send the token).",
        "operationId": "runArtifactDownloads",
        "tags": [
          "artifacts"
        ],
        "parameters": [
          {
            "name": "run",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "path",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ArtifactDownloads"
                }
              }
            }
          },
          "409": {
            "description": "The run's artifacts are not complete; the sentence says why.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "400": {
            "description": "The request is malformed; one sentence says why.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such run, or no artifact under that path (a path that could not be an artifact's is none).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/runs/{run}/artifacts/file": {
      "get": {
        "summary": "One artifact file from the server's own store, streamed. `Range: bytes=N-` resumes a download.",
        "operationId": "runArtifactFile",
        "tags": [
          "artifacts"
        ],
        "parameters": [
          {
            "name": "run",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "path",
            "in": "query",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "The file",
            "content": {
              "application/octet-stream": {
                "schema": {
                  "type": "string",
                  "format": "binary"
                }
              }
            }
          },
          "206": {
            "description": "The rest of the file from the range's start",
            "content": {
              "application/octet-stream": {
                "schema": {
                  "type": "string",
                  "format": "binary"
                }
              }
            }
          },
          "409": {
            "description": "The run's artifacts are not complete.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "416": {
            "description": "The range starts at or past the end of the file."
          },
          "400": {
            "description": "The request is malformed; one sentence says why.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such run, or no such artifact.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/code/{sha256}": {
      "put": {
        "summary": "Uploads a code archive (tar.gz) that a run will name by its SHA-256; the bytes must hash to it.",
        "operationId": "uploadCode",
        "tags": [
          "runs"
        ],
        "parameters": [
          {
            "name": "sha256",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "pattern": "^[0-9a-f]{64}$"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/gzip": {
              "schema": {
                "type": "string",
                "format": "binary"
              }
            },
            "application/octet-stream": {
              "schema": {
                "type": "string",
                "format": "binary"
              }
            }
          }
        },
        "responses": {
          "204": {
            "description": "Stored"
          },
          "400": {
            "description": "The request is malformed; one sentence says why.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "413": {
            "description": "The body is larger than the route takes (1 MiB of JSON, 2 GiB of code archive).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "415": {
            "description": "The body's Content-Type is not one the route takes.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/api/v1/instances": {
      "get": {
        "summary": "The instances this installation manages, as the cloud lists them.",
        "operationId": "listInstances",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Instances"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "409": {
            "description": "The request conflicts with the state (no provider configured, a rule or max refuses it).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The cloud failed or throttled; try again.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "instances"
        ]
      }
    },
    "/api/v1/instances/requests": {
      "post": {
        "summary": "Launches instances by hand, within the type's rule (admin).",
        "operationId": "requestInstances",
        "responses": {
          "201": {
            "description": "Created",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/InstanceRequestReply"
                }
              }
            }
          },
          "400": {
            "description": "The request is malformed; one sentence says why.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "409": {
            "description": "The request conflicts with the state (no provider configured, a rule or max refuses it).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The cloud failed or throttled; try again.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "413": {
            "description": "The body is larger than the route takes (1 MiB of JSON, 2 GiB of code archive).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "415": {
            "description": "The body's Content-Type is not one the route takes.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "instances"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/InstanceRequest"
              }
            }
          }
        }
      }
    },
    "/api/v1/instances/terminate": {
      "post": {
        "summary": "Terminates instances by ID; their runs go back to the queue (admin).",
        "operationId": "terminateInstances",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/TerminateReply"
                }
              }
            }
          },
          "400": {
            "description": "The request is malformed; one sentence says why.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token's user may not do this.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "No such run, user, vendor or instance.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "409": {
            "description": "The request conflicts with the state (no provider configured, a rule or max refuses it).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The cloud failed or throttled; try again.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "413": {
            "description": "The body is larger than the route takes (1 MiB of JSON, 2 GiB of code archive).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "415": {
            "description": "The body's Content-Type is not one the route takes.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "instances"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/Terminate"
              }
            }
          }
        }
      }
    },
    "/api/v1/session": {
      "post": {
        "summary": "Signs the web page in: checks the token and sets it in an HttpOnly, SameSite=Strict session cookie (dstack_session) that the API then accepts like a bearer token. A change made with the cookie alone must carry the X-Dstack-Request header.",
        "operationId": "signIn",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/SessionRequest"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Signed in; Set-Cookie carries the session.",
            "headers": {
              "Set-Cookie": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/User"
                }
              }
            }
          },
          "400": {
            "description": "The body is not a valid sign-in.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "The token is not valid.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "413": {
            "description": "The body is too large.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "415": {
            "description": "The body is not JSON.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The state could not be read; try again.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "web"
        ],
        "security": []
      },
      "delete": {
        "summary": "Signs the web page out: the reply clears the session cookie.",
        "operationId": "signOut",
        "responses": {
          "204": {
            "description": "Signed out.",
            "headers": {
              "Set-Cookie": {
                "schema": {
                  "type": "string"
                }
              }
            }
          }
        },
        "tags": [
          "web"
        ],
        "security": []
      }
    },
    "/api/v1/overview": {
      "get": {
        "summary": "Rules, instances and prices for the web page, from state and the cloud's list as the last reconcile pass read it (no cloud call).",
        "operationId": "overview",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Overview"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "409": {
            "description": "The configuration names an unknown provider.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "500": {
            "description": "The configuration could not be read.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The state could not be read; try again.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "web"
        ]
      }
    },
    "/api/v1/events": {
      "get": {
        "summary": "The fleet's timeline, newest first: launches, fulfilments (runners registering), interruptions, terminations, sweeps, requeues, given-up launches, failed runs and cloud failures.",
        "operationId": "listEvents",
        "parameters": [
          {
            "name": "before",
            "in": "query",
            "required": false,
            "description": "Only events with a smaller ID (paging back).",
            "schema": {
              "type": "integer",
              "minimum": 0,
              "maximum": 9223372036854775807
            }
          },
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "description": "At most this many (default 200).",
            "schema": {
              "type": "integer",
              "minimum": 0,
              "maximum": 1000
            }
          }
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Events"
                }
              }
            }
          },
          "400": {
            "description": "A query value is not a whole number in range.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The state could not be read; try again.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "web"
        ]
      }
    },
    "/api/v1/changes": {
      "get": {
        "summary": "Server-sent events for the web page: a `change` event whenever runs, instances, rules or the timeline change. Each stream ends after about 25 seconds; EventSource connects again by itself.",
        "operationId": "changes",
        "responses": {
          "200": {
            "description": "A text/event-stream.",
            "content": {
              "text/event-stream": {
                "schema": {
                  "type": "string"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The state could not be read; try again.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "web"
        ]
      }
    },
    "/metrics": {
      "get": {
        "summary": "The server's metrics in Prometheus's text format: instances by type, zone and state; runs by status; the queue's age; reconcile pass durations; cloud API calls, errors and throttling retries; interruptions; spend. Needs an admin's token unless the server runs with --metrics-public.",
        "operationId": "metrics",
        "responses": {
          "200": {
            "description": "Prometheus text format 0.0.4.",
            "content": {
              "text/plain": {
                "schema": {
                  "type": "string"
                }
              }
            }
          },
          "401": {
            "description": "No token, or not a valid one.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "The token is not an admin's.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "409": {
            "description": "The configuration names an unknown provider.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "500": {
            "description": "The configuration could not be read.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The state could not be read; try again.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "tags": [
          "web"
        ]
      }
    }
  },
  "components": {
    "securitySchemes": {
      "bearer": {
        "type": "http",
        "scheme": "bearer"
      }
    },
    "schemas": {
      "Error": {
        "type": "object",
        "properties": {
          "error": {
            "type": "string"
          }
        },
        "additionalProperties": false,
        "required": [
          "error"
        ]
      },
      "Health": {
        "type": "object",
        "properties": {
          "status": {
            "type": "string"
          },
          "version": {
            "type": "string"
          },
          "leader": {
            "type": "boolean"
          },
          "database": {
            "type": "string"
          }
        },
        "additionalProperties": false,
        "required": [
          "status",
          "version",
          "leader",
          "database"
        ]
      },
      "User": {
        "type": "object",
        "properties": {
          "name": {
            "type": "string"
          },
          "role": {
            "type": "string",
            "enum": [
              "admin",
              "user"
            ]
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          }
        },
        "additionalProperties": false,
        "required": [
          "name",
          "role",
          "created_at"
        ]
      },
      "NewUser": {
        "type": "object",
        "properties": {
          "name": {
            "type": "string",
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
          },
          "role": {
            "type": "string",
            "enum": [
              "admin",
              "user"
            ]
          }
        },
        "additionalProperties": false,
        "required": [
          "name",
          "role"
        ]
      },
      "NewUserReply": {
        "type": "object",
        "properties": {
          "user": {
            "$ref": "#/components/schemas/User"
          },
          "token": {
            "type": "string"
          }
        },
        "additionalProperties": false,
        "required": [
          "user",
          "token"
        ]
      },
      "VendorField": {
        "type": "object",
        "properties": {
          "key": {
            "type": "string"
          },
          "label": {
            "type": "string"
          },
          "secret": {
            "type": "boolean"
          },
          "optional": {
            "type": "boolean"
          },
          "prompted": {
            "type": "boolean"
          },
          "default_value": {
            "type": [
              "string",
              "null"
            ]
          },
          "help": {
            "type": "string"
          },
          "current": {
            "type": [
              "string",
              "null"
            ]
          },
          "fallback": {
            "type": [
              "string",
              "null"
            ]
          }
        },
        "additionalProperties": false,
        "required": [
          "key",
          "label",
          "secret",
          "optional",
          "prompted",
          "default_value",
          "help",
          "current"
        ]
      },
      "Vendor": {
        "type": "object",
        "properties": {
          "vendor": {
            "type": "string"
          },
          "display_name": {
            "type": "string"
          },
          "active": {
            "type": "boolean"
          },
          "fields": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/VendorField"
            }
          }
        },
        "additionalProperties": false,
        "required": [
          "vendor",
          "display_name",
          "active",
          "fields"
        ]
      },
      "ConfigureVendor": {
        "type": "object",
        "properties": {
          "settings": {
            "type": "object",
            "additionalProperties": {
              "type": "string"
            }
          },
          "verify": {
            "type": "boolean"
          }
        },
        "additionalProperties": false,
        "required": [
          "settings",
          "verify"
        ]
      },
      "RuleStatus": {
        "type": "object",
        "properties": {
          "instance_type": {
            "type": "string"
          },
          "max": {
            "type": "integer",
            "maximum": 9223372036854775807
          },
          "instances": {
            "type": "integer",
            "maximum": 9223372036854775807
          },
          "on_rebalance": {
            "description": "What an instance of this type does on a rebalance recommendation.",
            "type": [
              "string",
              "null"
            ],
            "enum": [
              "ignore",
              "drain",
              "replace",
              null
            ]
          },
          "spot_price": {
            "description": "The current spot price (USD per hour) in the zone the next launch would go to.",
            "type": [
              "number",
              "null"
            ]
          },
          "zone": {
            "description": "The zone the next launch would go to: the cheapest not cooled.",
            "type": [
              "string",
              "null"
            ]
          },
          "spend_today_dollars": {
            "description": "What the rule's instances cost idle or booting today (since 00:00 UTC), from the cost model: exact decimal US dollars, six places. Busy time is in each run's cost_dollars. Null when no price is known for the type.",
            "type": [
              "string",
              "null"
            ],
            "pattern": "^-?[0-9]+\\.[0-9]{6}$"
          },
          "spend_last30_days_dollars": {
            "description": "The same over the last 30 days.",
            "type": [
              "string",
              "null"
            ],
            "pattern": "^-?[0-9]+\\.[0-9]{6}$"
          }
        },
        "additionalProperties": false,
        "required": [
          "instance_type",
          "max",
          "instances"
        ]
      },
      "AutoscaleInfo": {
        "type": "object",
        "properties": {
          "enabled": {
            "type": "boolean"
          },
          "provider": {
            "type": [
              "string",
              "null"
            ]
          },
          "rules": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/RuleStatus"
            }
          }
        },
        "additionalProperties": false,
        "required": [
          "enabled",
          "provider",
          "rules"
        ]
      },
      "Allow": {
        "type": "object",
        "properties": {
          "max": {
            "type": "integer",
            "minimum": 0,
            "maximum": 9223372036854775807
          },
          "on_rebalance": {
            "description": "ignore (the default), drain (the instance takes no new runs and goes once idle) or replace (as drain, and a replacement starts now); absent: the rule keeps its policy.",
            "type": [
              "string",
              "null"
            ],
            "enum": [
              "ignore",
              "drain",
              "replace",
              null
            ]
          }
        },
        "additionalProperties": false,
        "required": [
          "max"
        ]
      },
      "ShutDownInstance": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "instance_type": {
            "type": "string"
          },
          "requeued_run": {
            "type": [
              "string",
              "null"
            ]
          }
        },
        "additionalProperties": false,
        "required": [
          "id",
          "instance_type",
          "requeued_run"
        ]
      },
      "ShutdownReport": {
        "type": "object",
        "properties": {
          "shut_down": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/ShutDownInstance"
            }
          },
          "pending": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "pending_reason": {
            "type": [
              "string",
              "null"
            ]
          }
        },
        "additionalProperties": false,
        "required": [
          "shut_down",
          "pending",
          "pending_reason"
        ]
      },
      "AllowReply": {
        "type": "object",
        "properties": {
          "instance_type": {
            "type": "string"
          },
          "previous_max": {
            "type": "integer",
            "maximum": 9223372036854775807
          },
          "new_max": {
            "type": "integer",
            "maximum": 9223372036854775807
          },
          "shutdown": {
            "$ref": "#/components/schemas/ShutdownReport"
          }
        },
        "additionalProperties": false,
        "required": [
          "instance_type",
          "previous_max",
          "new_max",
          "shutdown"
        ]
      },
      "ClearReply": {
        "type": "object",
        "properties": {
          "removed_rules": {
            "type": "integer",
            "maximum": 9223372036854775807
          },
          "shutdown": {
            "$ref": "#/components/schemas/ShutdownReport"
          }
        },
        "additionalProperties": false,
        "required": [
          "removed_rules",
          "shutdown"
        ]
      },
      "ToggleReply": {
        "type": "object",
        "properties": {
          "changed": {
            "type": "boolean"
          },
          "shutdown": {
            "$ref": "#/components/schemas/ShutdownReport"
          }
        },
        "additionalProperties": false,
        "required": [
          "changed",
          "shutdown"
        ]
      },
      "Requirements": {
        "type": "object",
        "properties": {
          "instance_type": {
            "type": [
              "string",
              "null"
            ]
          },
          "cpu": {
            "type": [
              "integer",
              "null"
            ],
            "minimum": 1,
            "maximum": 9223372036854775807
          },
          "memory_mib": {
            "type": [
              "integer",
              "null"
            ],
            "minimum": 1,
            "maximum": 9223372036854775807
          },
          "gpu": {
            "type": [
              "integer",
              "null"
            ],
            "minimum": 0,
            "maximum": 9223372036854775807
          },
          "disk_gb": {
            "type": [
              "integer",
              "null"
            ],
            "minimum": 1,
            "maximum": 9223372036854775807
          }
        },
        "additionalProperties": false,
        "description": "Either an instance type or cpu/memory_mib/gpu, not both (disk_gb goes with either).",
        "not": {
          "allOf": [
            {
              "properties": {
                "instance_type": {
                  "type": "string"
                }
              },
              "required": [
                "instance_type"
              ]
            },
            {
              "anyOf": [
                {
                  "properties": {
                    "cpu": {
                      "type": "integer"
                    }
                  },
                  "required": [
                    "cpu"
                  ]
                },
                {
                  "properties": {
                    "memory_mib": {
                      "type": "integer"
                    }
                  },
                  "required": [
                    "memory_mib"
                  ]
                },
                {
                  "properties": {
                    "gpu": {
                      "type": "integer"
                    }
                  },
                  "required": [
                    "gpu"
                  ]
                }
              ]
            }
          ]
        }
      },
      "RunSubmission": {
        "type": "object",
        "properties": {
          "workflow": {
            "type": [
              "string",
              "null"
            ]
          },
          "commands": {
            "type": "array",
            "items": {
              "type": "string",
              "minLength": 1
            },
            "minItems": 1
          },
          "requirements": {
            "$ref": "#/components/schemas/Requirements"
          },
          "environment": {
            "type": "object",
            "propertyNames": {
              "type": "string",
              "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"
            },
            "additionalProperties": {
              "type": "string"
            }
          },
          "code_sha256": {
            "type": [
              "string",
              "null"
            ],
            "pattern": "^[0-9a-f]{64}$"
          },
          "code_size": {
            "type": [
              "integer",
              "null"
            ],
            "minimum": 0,
            "maximum": 9223372036854775807
          },
          "wait": {
            "type": "boolean"
          },
          "artifacts": {
            "type": "array",
            "items": {
              "type": "string",
              "pattern": "^(?:[^/.~\\u0000][^/\\u0000]*|\\.[^/.\\u0000][^/\\u0000]*|\\.\\.[^/\\u0000]+)(?:/(?:[^/.\\u0000][^/\\u0000]*|\\.[^/.\\u0000][^/\\u0000]*|\\.\\.[^/\\u0000]+))*$"
            },
            "description": "Paths relative to the run's working directory, normalized (no leading '/' or '~', no '.' or '..' segments, no empty ones, no trailing '/'), that the runner uploads after the commands end."
          },
          "deps": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Dep"
            },
            "description": "Runs whose artifacts the working directory starts with."
          },
          "retry": {
            "description": "The workflow's retry policy; absent or null: retry interruptions only (up to the server's --max-retries) and wait for capacity.",
            "type": [
              "object",
              "null"
            ],
            "properties": {
              "on_events": {
                "type": "array",
                "items": {
                  "type": "string",
                  "enum": [
                    "interruption",
                    "no-capacity",
                    "error"
                  ]
                }
              },
              "duration": {
                "description": "Seconds after submission after which nothing is retried.",
                "type": [
                  "integer",
                  "null"
                ],
                "minimum": 1,
                "maximum": 9223372036854775807
              }
            },
            "additionalProperties": false,
            "required": [
              "on_events"
            ]
          }
        },
        "additionalProperties": false,
        "required": [
          "commands",
          "requirements",
          "environment",
          "wait"
        ],
        "description": "code_size goes with code_sha256.",
        "not": {
          "allOf": [
            {
              "properties": {
                "code_size": {
                  "type": "integer"
                }
              },
              "required": [
                "code_size"
              ]
            },
            {
              "not": {
                "properties": {
                  "code_sha256": {
                    "type": "string"
                  }
                },
                "required": [
                  "code_sha256"
                ]
              }
            }
          ]
        }
      },
      "Run": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "workflow": {
            "type": [
              "string",
              "null"
            ]
          },
          "user": {
            "type": [
              "string",
              "null"
            ]
          },
          "status": {
            "type": "string",
            "enum": [
              "submitted",
              "pending",
              "provisioning",
              "running",
              "done",
              "failed",
              "stopped",
              "interrupted"
            ]
          },
          "reason": {
            "type": [
              "string",
              "null"
            ]
          },
          "stage": {
            "type": [
              "string",
              "null"
            ]
          },
          "instance_id": {
            "type": [
              "string",
              "null"
            ]
          },
          "attempt": {
            "type": "integer",
            "maximum": 9223372036854775807
          },
          "exit_code": {
            "type": [
              "integer",
              "null"
            ],
            "maximum": 9223372036854775807
          },
          "submitted_at": {
            "type": "string",
            "format": "date-time"
          },
          "finished_at": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "artifacts": {
            "oneOf": [
              {
                "type": "null"
              },
              {
                "$ref": "#/components/schemas/ArtifactSummary"
              }
            ],
            "description": "null for a run that declares no artifacts."
          },
          "interruptions": {
            "description": "Attempts lost to the cloud taking the instance back (spot interruptions).",
            "type": [
              "integer",
              "null"
            ],
            "maximum": 9223372036854775807
          },
          "interrupted_by": {
            "description": "The signal of the last interruption: 'spot interruption notice, terminate at 12:04:31Z', 'spot request status instance-terminated-by-price', 'instance state reason Server.SpotInstanceTermination'.",
            "type": [
              "string",
              "null"
            ]
          },
          "cost_dollars": {
            "description": "What the run has cost so far: the spot price of the time it held an instance, every attempt summed, from the cost model; exact decimal US dollars, six places. Null when no price is known (it has not run, or ran where the provider reports no prices).",
            "type": [
              "string",
              "null"
            ],
            "pattern": "^-?[0-9]+\\.[0-9]{6}$"
          }
        },
        "additionalProperties": false,
        "required": [
          "id",
          "workflow",
          "user",
          "status",
          "reason",
          "stage",
          "instance_id",
          "attempt",
          "exit_code",
          "submitted_at",
          "finished_at",
          "artifacts"
        ]
      },
      "LogLine": {
        "type": "object",
        "properties": {
          "seq": {
            "type": "integer",
            "maximum": 9223372036854775807
          },
          "attempt": {
            "type": "integer",
            "maximum": 9223372036854775807
          },
          "stream": {
            "type": "string",
            "enum": [
              "stdout",
              "stderr",
              "system"
            ]
          },
          "text": {
            "type": "string"
          }
        },
        "additionalProperties": false,
        "required": [
          "seq",
          "attempt",
          "stream",
          "text"
        ]
      },
      "LogPage": {
        "type": "object",
        "properties": {
          "run": {
            "$ref": "#/components/schemas/Run"
          },
          "entries": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/LogLine"
            }
          }
        },
        "additionalProperties": false,
        "required": [
          "run",
          "entries"
        ]
      },
      "StopReply": {
        "type": "object",
        "properties": {
          "run": {
            "$ref": "#/components/schemas/Run"
          },
          "already_finished": {
            "type": "boolean"
          }
        },
        "additionalProperties": false,
        "required": [
          "run",
          "already_finished"
        ]
      },
      "Instance": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "instance_type": {
            "type": "string"
          },
          "state": {
            "type": "string"
          },
          "runner_registered": {
            "type": "boolean"
          },
          "awaiting_runner": {
            "type": "boolean"
          },
          "launch_time": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "spot_request_id": {
            "type": [
              "string",
              "null"
            ]
          },
          "run_id": {
            "type": [
              "string",
              "null"
            ]
          },
          "idle_since": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          }
        },
        "additionalProperties": false,
        "required": [
          "id",
          "instance_type",
          "state",
          "runner_registered",
          "awaiting_runner",
          "launch_time",
          "spot_request_id",
          "run_id",
          "idle_since"
        ]
      },
      "Instances": {
        "type": "object",
        "properties": {
          "provider": {
            "type": "string"
          },
          "instances": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Instance"
            }
          }
        },
        "additionalProperties": false,
        "required": [
          "provider",
          "instances"
        ]
      },
      "InstanceRequest": {
        "type": "object",
        "properties": {
          "instance_type": {
            "type": "string",
            "minLength": 1
          },
          "count": {
            "type": "integer",
            "minimum": 1,
            "maximum": 9223372036854775807
          }
        },
        "additionalProperties": false,
        "required": [
          "instance_type",
          "count"
        ]
      },
      "InstanceRequestReply": {
        "type": "object",
        "properties": {
          "instance_type": {
            "type": "string"
          },
          "count": {
            "type": "integer",
            "maximum": 9223372036854775807
          },
          "spot_request_ids": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "instance_ids": {
            "type": "array",
            "items": {
              "type": "string"
            }
          }
        },
        "additionalProperties": false,
        "required": [
          "instance_type",
          "count",
          "spot_request_ids",
          "instance_ids"
        ]
      },
      "Terminate": {
        "type": "object",
        "properties": {
          "ids": {
            "type": "array",
            "items": {
              "type": "string",
              "minLength": 1
            },
            "minItems": 1
          }
        },
        "additionalProperties": false,
        "required": [
          "ids"
        ]
      },
      "TerminateReply": {
        "type": "object",
        "properties": {
          "terminated": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/ShutDownInstance"
            }
          }
        },
        "additionalProperties": false,
        "required": [
          "terminated"
        ]
      },
      "Dep": {
        "type": "object",
        "properties": {
          "workflow": {
            "type": "string",
            "minLength": 1
          },
          "run": {
            "type": "string",
            "minLength": 1
          }
        },
        "additionalProperties": false,
        "description": "The latest successful run of a workflow (with complete artifacts), or one run by ID.",
        "oneOf": [
          {
            "required": [
              "workflow"
            ]
          },
          {
            "required": [
              "run"
            ]
          }
        ]
      },
      "ArtifactSummary": {
        "type": "object",
        "properties": {
          "count": {
            "type": "integer",
            "minimum": 0,
            "maximum": 9223372036854775807
          },
          "size": {
            "type": "integer",
            "minimum": 0,
            "maximum": 9223372036854775807
          },
          "state": {
            "type": "string",
            "enum": [
              "pending",
              "uploading",
              "complete",
              "incomplete"
            ]
          },
          "reason": {
            "type": [
              "string",
              "null"
            ]
          }
        },
        "additionalProperties": false,
        "required": [
          "count",
          "size",
          "state",
          "reason"
        ]
      },
      "ArtifactFile": {
        "type": "object",
        "properties": {
          "path": {
            "type": "string"
          },
          "size": {
            "type": "integer",
            "minimum": 0,
            "maximum": 9223372036854775807
          },
          "sha256": {
            "type": "string",
            "pattern": "^[0-9a-f]{64}$"
          }
        },
        "additionalProperties": false,
        "required": [
          "path",
          "size",
          "sha256"
        ]
      },
      "ArtifactList": {
        "type": "object",
        "properties": {
          "run": {
            "type": "string"
          },
          "declared": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "state": {
            "type": "string",
            "enum": [
              "none",
              "pending",
              "uploading",
              "complete",
              "incomplete"
            ]
          },
          "reason": {
            "type": [
              "string",
              "null"
            ]
          },
          "location": {
            "type": [
              "string",
              "null"
            ]
          },
          "files": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/ArtifactFile"
            }
          }
        },
        "additionalProperties": false,
        "required": [
          "run",
          "declared",
          "state",
          "reason",
          "location",
          "files"
        ]
      },
      "ArtifactDownload": {
        "type": "object",
        "properties": {
          "path": {
            "type": "string"
          },
          "size": {
            "type": "integer",
            "minimum": 0,
            "maximum": 9223372036854775807
          },
          "sha256": {
            "type": "string",
            "pattern": "^[0-9a-f]{64}$"
          },
          "url": {
            "type": "string"
          }
        },
        "additionalProperties": false,
        "required": [
          "path",
          "size",
          "sha256",
          "url"
        ]
      },
      "ArtifactDownloads": {
        "type": "object",
        "properties": {
          "run": {
            "type": "string"
          },
          "files": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/ArtifactDownload"
            }
          }
        },
        "additionalProperties": false,
        "required": [
          "run",
          "files"
        ]
      },
      "SessionRequest": {
        "type": "object",
        "properties": {
          "token": {
            "type": "string"
          }
        },
        "additionalProperties": false,
        "required": [
          "token"
        ]
      },
      "RuleOverview": {
        "type": "object",
        "properties": {
          "instance_type": {
            "type": "string"
          },
          "max": {
            "type": "integer"
          },
          "instances": {
            "type": "integer"
          },
          "price_per_hour": {
            "type": [
              "number",
              "null"
            ]
          },
          "spend_today_dollars": {
            "description": "What the rule's instances cost idle or booting today (UTC), from the cost model; decimal US dollars.",
            "type": [
              "string",
              "null"
            ],
            "pattern": "^-?[0-9]+\\.[0-9]{6}$"
          },
          "spend_last30_days_dollars": {
            "description": "The same over the last 30 days.",
            "type": [
              "string",
              "null"
            ],
            "pattern": "^-?[0-9]+\\.[0-9]{6}$"
          }
        },
        "required": [
          "instance_type",
          "max",
          "instances"
        ]
      },
      "InstanceOverview": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "instance_type": {
            "type": "string"
          },
          "zone": {
            "type": [
              "string",
              "null"
            ]
          },
          "state": {
            "type": "string"
          },
          "run_id": {
            "type": [
              "string",
              "null"
            ]
          },
          "launch_time": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "idle_since": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "cost_dollars": {
            "description": "What the instance has cost so far, from the cost model (spot price over its life, piecewise); decimal US dollars.",
            "type": [
              "string",
              "null"
            ],
            "pattern": "^-?[0-9]+\\.[0-9]{6}$"
          }
        },
        "required": [
          "id",
          "instance_type",
          "state"
        ]
      },
      "Overview": {
        "type": "object",
        "properties": {
          "provider": {
            "type": [
              "string",
              "null"
            ]
          },
          "enabled": {
            "type": "boolean"
          },
          "listed_at": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "now": {
            "type": "string",
            "format": "date-time"
          },
          "rules": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/RuleOverview"
            }
          },
          "instances": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/InstanceOverview"
            }
          }
        },
        "required": [
          "enabled",
          "now",
          "rules",
          "instances"
        ]
      },
      "Event": {
        "type": "object",
        "properties": {
          "id": {
            "type": "integer"
          },
          "at": {
            "type": "string",
            "format": "date-time"
          },
          "kind": {
            "type": "string"
          },
          "subject": {
            "type": "string"
          },
          "detail": {
            "type": "string"
          }
        },
        "required": [
          "id",
          "at",
          "kind",
          "subject",
          "detail"
        ]
      },
      "Events": {
        "type": "object",
        "properties": {
          "events": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Event"
            }
          }
        },
        "required": [
          "events"
        ]
      }
    }
  }
}
"""#
}
